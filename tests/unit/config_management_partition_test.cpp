// halcyon.cfg's management-partition keys in [management] (docs/boot-config.md,
// docs/management-partition.md): `partition = yes|no` (default yes), `memory = SIZE` (default
// 64M, a 2M multiple from 16M to 1G), `crash_test = none|page_fault`.
#include "boot/config/config.hpp"
#include "tests/unit/config_test_support.hpp"

#include <gtest/gtest.h>

using namespace halcyon::config;
using namespace halcyon::config::testing;

namespace {

TEST(ConfigManagementPartition, Defaults) {
    const Parsed parsed = expect_ok("[management]\naddress = dhcp\n");
    EXPECT_TRUE(parsed.config->management.partition);
    EXPECT_EQ(parsed.config->management.partition_memory, 64ULL << 20);
    EXPECT_EQ(parsed.config->management.crash_test, ManagementCrashTest::none);
}

TEST(ConfigManagementPartition, AllKeys) {
    const Parsed parsed = expect_ok("[management]\npartition = yes\nmemory = 128M\n"
                                    "crash_test = page_fault\n");
    EXPECT_TRUE(parsed.config->management.partition);
    EXPECT_EQ(parsed.config->management.partition_memory, 128ULL << 20);
    EXPECT_EQ(parsed.config->management.crash_test, ManagementCrashTest::page_fault);
    const Parsed no = expect_ok("[management]\npartition = no\nmemory = 16M\ncrash_test = none\n");
    EXPECT_FALSE(no.config->management.partition);
    EXPECT_EQ(no.config->management.partition_memory, 16ULL << 20);
    EXPECT_EQ(no.config->management.crash_test, ManagementCrashTest::none);
}

TEST(ConfigManagementPartition, RejectsBadValues) {
    expect_error("[management]\npartition = maybe\n", 2,
                 "partition must be yes or no, not 'maybe'");
    expect_error("[management]\nmemory = 8M\n", 2,
                 "the management partition's memory must be between 16M and 1G, not '8M'");
    expect_error("[management]\nmemory = 2G\n", 2, "between 16M and 1G");
    expect_error("[management]\nmemory = 17M\n", 2, "memory must be a multiple of 2M, not '17M'");
    expect_error("[management]\nmemory = lots\n", 2, "memory must be a size such as 64M");
    expect_error("[management]\ncrash_test = divide_error\n", 2,
                 "crash_test must be none or page_fault (in [management]), not 'divide_error'");
    expect_error("[management]\npartition = yes\npartition = no\n", 3,
                 "'partition' is already set on line 2");
}

TEST(ConfigManagementPartition, GlobalCrashTestStaysSeparate) {
    const Parsed parsed = expect_ok("crash_test = none\n[management]\ncrash_test = page_fault\n");
    EXPECT_EQ(parsed.config->crash_test, CrashTest::none);
    EXPECT_EQ(parsed.config->management.crash_test, ManagementCrashTest::page_fault);
}

TEST(ConfigManagementPartition, OnlyInManagement) {
    const Parsed global = run("partition = yes\n");
    EXPECT_FALSE(global.ok);
    EXPECT_TRUE(global.has(1, "partition")) << global.messages();
}

} // namespace
