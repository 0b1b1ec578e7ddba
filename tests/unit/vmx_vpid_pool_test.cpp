// VPID allocation (vmm/vmx/vpid_pool.hpp).
#include "vmm/vmx/vpid_pool.hpp"

#include <gtest/gtest.h>
#include <memory>

using namespace halcyon::vmx;

TEST(VmxVpidPool, NeverHandsOutTheHostsVpidAndReusesLast) {
    auto pool = std::make_unique<VpidPool>();
    EXPECT_TRUE(pool->in_use(0));
    EXPECT_EQ(pool->allocate(), 1);
    EXPECT_EQ(pool->allocate(), 2);
    pool->release(1);
    EXPECT_EQ(pool->allocate(), 3) << "next-fit: a freed VPID waits for the others";
    pool->release(0); // the host's stays reserved
    EXPECT_TRUE(pool->in_use(0));
}

TEST(VmxVpidPool, ExhaustionIsReportedAndWrapsToFreedOnes) {
    auto pool = std::make_unique<VpidPool>();
    for (uint32_t i = 1; i < VpidPool::kVpidCount; ++i)
        ASSERT_EQ(pool->allocate(), static_cast<uint16_t>(i));
    EXPECT_FALSE(pool->allocate().has_value());
    pool->release(77);
    EXPECT_EQ(pool->allocate(), 77);
}
