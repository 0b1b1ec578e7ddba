// halcyon.cfg's per-VM `privileged` key (docs/boot-config.md, docs/management-partition.md):
// yes/no, default no, once per VM, only in [vm NAME] sections, and a privileged VM (the root
// partition) has exactly one vCPU for now.
#include "boot/config/config.hpp"
#include "tests/unit/config_test_support.hpp"

#include <cstring>
#include <gtest/gtest.h>

using namespace halcyon::config;
using namespace halcyon::config::testing;

namespace {

TEST(ConfigPrivileged, DefaultsToNo) {
    const Parsed parsed = expect_ok("[vm a]\nkernel = k\n");
    EXPECT_FALSE(parsed.config->vms[0].privileged);
}

TEST(ConfigPrivileged, YesAndNoPerVm) {
    const Parsed parsed = expect_ok("[vm root]\nkernel = k\nprivileged = yes\n"
                                    "[vm child]\nkernel = k\nprivileged = no  # explicit\n"
                                    "[vm other]\nkernel = k\n");
    ASSERT_EQ(parsed.config->vm_count, 3u);
    EXPECT_TRUE(parsed.config->vms[0].privileged);
    EXPECT_FALSE(parsed.config->vms[1].privileged);
    EXPECT_FALSE(parsed.config->vms[2].privileged);
}

TEST(ConfigPrivileged, RejectsOtherValues) {
    expect_error("[vm a]\nkernel = k\nprivileged = true\n", 3,
                 "privileged must be yes or no, not 'true'");
    expect_error("[vm a]\nkernel = k\nprivileged = 1\n", 3, "privileged must be yes or no");
    expect_error("[vm a]\nkernel = k\nprivileged = Yes\n", 3, "privileged must be yes or no");
    expect_error("[vm a]\nkernel = k\nprivileged = yes no\n", 3, "unexpected 'no'");
}

TEST(ConfigPrivileged, SetTwiceIsReported) {
    expect_error("[vm a]\nkernel = k\nprivileged = yes\nprivileged = yes\n", 4,
                 "'privileged' is already set on line 3");
}

TEST(ConfigPrivileged, OnlyInVmSections) {
    const Parsed global = run("privileged = yes\n[vm a]\nkernel = k\n");
    EXPECT_FALSE(global.ok);
    ASSERT_EQ(global.diagnostics.count, 1u) << global.messages();
    EXPECT_TRUE(global.has(1, "privileged")) << global.messages();

    const Parsed management = run("[management]\nprivileged = yes\n");
    EXPECT_FALSE(management.ok);
    ASSERT_EQ(management.diagnostics.count, 1u) << management.messages();
    EXPECT_EQ(management.diagnostics.entries[0].line, 2u);
}

TEST(ConfigPrivileged, RootPartitionHasOneVcpu) {
    expect_error("[vm root]\nkernel = k\nvcpus = 2\nprivileged = yes\n", 1,
                 "[vm root] is privileged: a root partition has exactly one vCPU for now");
    // The order of the keys does not matter, and unprivileged VMs keep their vCPUs.
    expect_error("[vm a]\nkernel = k\nvcpus = 4\n[vm root]\nprivileged = yes\nkernel = k\n"
                 "vcpus = 3\n",
                 4, "exactly one vCPU");
    const Parsed parsed = expect_ok("[vm root]\nvcpus = 1\nprivileged = yes\nkernel = k\n"
                                    "[vm big]\nkernel = k\nvcpus = 8\n");
    EXPECT_TRUE(parsed.config->vms[0].privileged);
    EXPECT_EQ(parsed.config->vms[1].vcpus, 8u);
}

TEST(ConfigPrivileged, NearMissSuggestsTheKey) {
    expect_error("[vm a]\nkernel = k\nprivilege = yes\n", 3, "did you mean 'privileged'?");
}

} // namespace
