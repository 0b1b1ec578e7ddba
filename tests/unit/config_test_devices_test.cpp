// halcyon.cfg's per-VM `test_devices` key (docs/boot-config.md): yes/no, default no, once per VM,
// only in [vm NAME] sections.
#include "boot/config/config.hpp"
#include "tests/unit/config_test_support.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <string_view>

using namespace halcyon::config;
using namespace halcyon::config::testing;

namespace {

TEST(ConfigTestDevices, DefaultsToNo) {
    const Parsed parsed = run("[vm a]\nkernel = k\n");
    ASSERT_TRUE(parsed.ok) << parsed.messages();
    EXPECT_FALSE(parsed.config->vms[0].test_devices);
}

TEST(ConfigTestDevices, YesAndNoPerVm) {
    const Parsed parsed = run("[vm a]\nkernel = k\ntest_devices = yes\n"
                              "[vm b]\nkernel = k\ntest_devices = no  # explicit\n"
                              "[vm c]\nkernel = k\n");
    ASSERT_TRUE(parsed.ok) << parsed.messages();
    ASSERT_EQ(parsed.config->vm_count, 3u);
    EXPECT_TRUE(parsed.config->vms[0].test_devices);
    EXPECT_FALSE(parsed.config->vms[1].test_devices);
    EXPECT_FALSE(parsed.config->vms[2].test_devices);
}

TEST(ConfigTestDevices, QuotedValueIsAccepted) {
    const Parsed parsed = run("[vm a]\nkernel = k\ntest_devices = \"yes\"\n");
    ASSERT_TRUE(parsed.ok) << parsed.messages();
    EXPECT_TRUE(parsed.config->vms[0].test_devices);
}

TEST(ConfigTestDevices, RejectsOtherValues) {
    expect_error("[vm a]\nkernel = k\ntest_devices = true\n", 3,
                 "test_devices must be yes or no, not 'true'");
    expect_error("[vm a]\nkernel = k\ntest_devices = 1\n", 3, "test_devices must be yes or no");
    expect_error("[vm a]\nkernel = k\ntest_devices = YES\n", 3, "test_devices must be yes or no");
    expect_error("[vm a]\nkernel = k\ntest_devices = yes please\n", 3, "unexpected 'please'");
}

TEST(ConfigTestDevices, SetTwiceIsReported) {
    expect_error("[vm a]\nkernel = k\ntest_devices = yes\ntest_devices = no\n", 4,
                 "'test_devices' is already set on line 3");
}

TEST(ConfigTestDevices, OnlyInVmSections) {
    const Parsed global = run("test_devices = yes\n[vm a]\nkernel = k\n");
    EXPECT_FALSE(global.ok);
    ASSERT_EQ(global.diagnostics.count, 1u) << global.messages();
    EXPECT_EQ(global.diagnostics.entries[0].line, 1u);
    EXPECT_NE(std::strstr(global.diagnostics.entries[0].message, "test_devices"), nullptr)
        << global.messages();

    const Parsed management = run("[management]\ntest_devices = yes\n");
    EXPECT_FALSE(management.ok);
    ASSERT_EQ(management.diagnostics.count, 1u) << management.messages();
    EXPECT_EQ(management.diagnostics.entries[0].line, 2u);
}

TEST(ConfigTestDevices, NearMissSuggestsTheKey) {
    expect_error("[vm a]\nkernel = k\ntest_device = yes\n", 3, "did you mean 'test_devices'?");
}

} // namespace
