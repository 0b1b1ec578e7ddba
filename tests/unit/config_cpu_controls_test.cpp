// halcyon.cfg's per-VM processor controls (docs/boot-config.md, docs/scheduler.md): cpu_weight,
// cpu_reserve and cpu_limit, Hyper-V's relative weight, reserve and limit.
#include "boot/config/config.hpp"
#include "tests/unit/config_test_support.hpp"

#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <string_view>

using namespace halcyon::config;
using namespace halcyon::config::testing;

TEST(ConfigCpuControls, DefaultsAreHyperVs) {
    const Parsed parsed = run("[vm a]\nkernel = k\n");
    ASSERT_TRUE(parsed.ok);
    EXPECT_EQ(parsed.config->vms[0].cpu_weight, 100u);
    EXPECT_EQ(parsed.config->vms[0].cpu_reserve_percent, 0u);
    EXPECT_EQ(parsed.config->vms[0].cpu_limit_percent, 100u);
}

TEST(ConfigCpuControls, ValuesAreParsed) {
    const Parsed parsed =
        run("[vm a]\nkernel = k\ncpu_weight = 300\ncpu_reserve = 20\ncpu_limit = 50\n");
    ASSERT_TRUE(parsed.ok);
    EXPECT_EQ(parsed.config->vms[0].cpu_weight, 300u);
    EXPECT_EQ(parsed.config->vms[0].cpu_reserve_percent, 20u);
    EXPECT_EQ(parsed.config->vms[0].cpu_limit_percent, 50u);
}

TEST(ConfigCpuControls, OutOfRangeValuesAreRefusedWithTheirLine) {
    for (const char* bad : {"cpu_weight = 0", "cpu_weight = 10001", "cpu_reserve = 101",
                            "cpu_limit = 0", "cpu_limit = 101", "cpu_weight = heavy"}) {
        const Parsed parsed = run(std::string("[vm a]\nkernel = k\n") + bad + "\n");
        EXPECT_FALSE(parsed.ok) << bad;
        ASSERT_EQ(parsed.diagnostics.count, 1u) << bad;
        EXPECT_EQ(parsed.diagnostics.entries[0].line, 3u) << bad;
    }
}
