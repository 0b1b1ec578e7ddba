#include "boot/config/config.hpp"
#include <gtest/gtest.h>
using namespace halcyon::config;
TEST(Config, EmptyIsValid) {
    BootConfig config;
    Diagnostics diagnostics;
    EXPECT_TRUE(parse("", config, diagnostics));
}
