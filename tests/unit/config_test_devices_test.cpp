// halcyon.cfg's per-VM `test_devices` key (docs/boot-config.md): yes/no, default no, once per VM,
// only in [vm NAME] sections.
#include "boot/config/config.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <string_view>

using namespace halcyon::config;

namespace {

struct Parsed {
    std::unique_ptr<BootConfig> config = std::make_unique<BootConfig>();
    Diagnostics diagnostics;
    bool ok = false;

    [[nodiscard]] std::string messages() const {
        std::string all;
        for (uint32_t i = 0; i < diagnostics.count; ++i)
            all += std::to_string(diagnostics.entries[i].line) + ": " +
                   diagnostics.entries[i].message + "\n";
        return all;
    }
};

Parsed run(std::string_view text) {
    Parsed parsed;
    parsed.ok = parse(text, *parsed.config, parsed.diagnostics);
    return parsed;
}

// Expects exactly one diagnostic, on `line`, containing `fragment`.
void expect_error(std::string_view text, uint32_t line, const char* fragment) {
    const Parsed parsed = run(text);
    EXPECT_FALSE(parsed.ok) << text;
    ASSERT_EQ(parsed.diagnostics.count, 1u) << text << "\n" << parsed.messages();
    EXPECT_EQ(parsed.diagnostics.entries[0].line, line) << parsed.messages();
    EXPECT_NE(std::strstr(parsed.diagnostics.entries[0].message, fragment), nullptr)
        << "wanted: " << fragment << "\ngot: " << parsed.messages();
}

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
