// The MAC learning table: lookups, moves, ageing with an injected clock, the capacity limit, and
// deletion correctness against a reference map under random operations.
#include "tests/unit/vswitch_test_packets.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace halcyon::vswitch {
namespace {

using namespace test;

constexpr uint64_t kSecond = 1'000'000'000;

TEST(VswitchMacTable, LearnLookupAndDomainsAreSeparate) {
    std::vector<MacEntry> storage(64);
    MacTable table(storage, 300 * kSecond);
    EXPECT_EQ(table.learn(vlan_domain(10), mac(1), 3, 0), LearnResult::learned);
    EXPECT_EQ(table.lookup(vlan_domain(10), mac(1), 0), 3);
    EXPECT_EQ(table.lookup(vlan_domain(11), mac(1), 0), kNoPort); // another VLAN
    EXPECT_EQ(table.lookup(vsid_domain(10), mac(1), 0), kNoPort); // a VSID is not a VLAN
    EXPECT_EQ(table.learn(vlan_domain(10), mac(1), 3, 5), LearnResult::refreshed);
    EXPECT_EQ(table.size(), 1u);
}

TEST(VswitchMacTable, MoveDetection) {
    std::vector<MacEntry> storage(64);
    MacTable table(storage, 0);
    table.learn(1, mac(1), 3, 0);
    EXPECT_EQ(table.learn(1, mac(1), 4, 1), LearnResult::moved);
    EXPECT_EQ(table.lookup(1, mac(1), 1), 4);
    EXPECT_EQ(table.stats().moves, 1u);
}

TEST(VswitchMacTable, AgeingWithInjectedClock) {
    std::vector<MacEntry> storage(64);
    MacTable table(storage, 300 * kSecond);
    table.learn(1, mac(1), 3, 0);
    table.learn(1, mac(2), 4, 200 * kSecond);
    EXPECT_EQ(table.lookup(1, mac(1), 300 * kSecond), 3);
    EXPECT_EQ(table.lookup(1, mac(1), 301 * kSecond), kNoPort); // idle too long
    EXPECT_EQ(table.age(301 * kSecond), 1u);
    EXPECT_EQ(table.size(), 1u);
    EXPECT_EQ(table.lookup(1, mac(2), 301 * kSecond), 4);
    EXPECT_EQ(table.stats().aged_out, 1u);
}

TEST(VswitchMacTable, CapacityLimitRefusesWithoutEvicting) {
    std::vector<MacEntry> storage(16);
    MacTable table(storage, 300 * kSecond);
    EXPECT_EQ(table.capacity(), 12u);
    for (uint8_t i = 0; i < 12; ++i)
        EXPECT_EQ(table.learn(1, mac(i), 1, 0), LearnResult::learned);
    EXPECT_EQ(table.learn(1, mac(100), 1, 0), LearnResult::table_full);
    EXPECT_EQ(table.stats().table_full, 1u);
    for (uint8_t i = 0; i < 12; ++i)
        EXPECT_EQ(table.lookup(1, mac(i), 0), 1);
    // Once entries age out, learning works again.
    EXPECT_EQ(table.learn(1, mac(100), 2, 400 * kSecond), LearnResult::learned);
    EXPECT_EQ(table.lookup(1, mac(100), 400 * kSecond), 2);
}

TEST(VswitchMacTable, TinyTablesNeverLoopForever) {
    for (size_t slots : {1u, 2u, 3u}) {
        std::vector<MacEntry> storage(slots);
        MacTable table(storage, 0);
        for (uint8_t i = 0; i < 10; ++i)
            table.learn(1, mac(i), 1, 0);
        EXPECT_EQ(table.lookup(1, mac(200), 0), kNoPort);
        EXPECT_LT(table.size(), std::bit_floor(slots));
    }
    MacTable empty(std::span<MacEntry>{}, 0);
    EXPECT_EQ(empty.learn(1, mac(1), 1, 0), LearnResult::table_full);
    EXPECT_EQ(empty.lookup(1, mac(1), 0), kNoPort);
}

TEST(VswitchMacTable, RandomOperationsMatchAReferenceMap) {
    std::vector<MacEntry> storage(256);
    MacTable table(storage, 0);
    std::map<std::pair<uint32_t, uint64_t>, PortId> reference;
    std::mt19937 random(1234);
    for (int step = 0; step < 20000; ++step) {
        MacAddress address = mac(static_cast<uint8_t>(random() % 64), 0x02);
        address.bytes[4] = static_cast<uint8_t>(random() % 4);
        DomainId domain = random() % 3;
        PortId port = static_cast<PortId>(random() % 8);
        switch (random() % 4) {
        case 0:
        case 1:
            if (table.learn(domain, address, port, 0) != LearnResult::table_full)
                reference[{domain, address.to_u64()}] = port;
            break;
        case 2: {
            PortId flushed = static_cast<PortId>(random() % 8);
            if (random() % 8 == 0) {
                table.flush_port(flushed);
                std::erase_if(reference, [&](const auto& item) { return item.second == flushed; });
            }
            break;
        }
        default:
            break;
        }
        auto it = reference.find({domain, address.to_u64()});
        ASSERT_EQ(table.lookup(domain, address, 0), it == reference.end() ? kNoPort : it->second);
        ASSERT_EQ(table.size(), reference.size());
    }
    for (const auto& [key, port] : reference) {
        MacAddress address;
        for (int i = 0; i < 6; ++i)
            address.bytes[i] = static_cast<uint8_t>(key.second >> (40 - 8 * i));
        EXPECT_EQ(table.lookup(key.first, address, 0), port);
    }
}

TEST(VswitchTokenBucket, RateAndBurst) {
    TokenBucket bucket(10, 5, 0); // 10 per second, depth 5
    for (int i = 0; i < 5; ++i)
        EXPECT_TRUE(bucket.try_take(1, 0));
    EXPECT_FALSE(bucket.try_take(1, 0));
    EXPECT_FALSE(bucket.try_take(1, kSecond / 10 - 1));
    EXPECT_TRUE(bucket.try_take(1, kSecond / 10));
    EXPECT_FALSE(bucket.try_take(1, kSecond / 10));
    EXPECT_EQ(bucket.level(100 * kSecond), 5u); // capped at the depth
    // More than the depth goes once the bucket is full, leaving it in debt for the rest.
    EXPECT_TRUE(bucket.try_take(6, 100 * kSecond));
    EXPECT_FALSE(bucket.try_take(1, 100 * kSecond + kSecond / 10 - 1));
    EXPECT_TRUE(TokenBucket().try_take(1000, 0)); // unlimited
    // A clock stepping back mints nothing.
    TokenBucket other(1, 1, 50 * kSecond);
    EXPECT_TRUE(other.try_take(1, 50 * kSecond));
    EXPECT_FALSE(other.try_take(1, 10 * kSecond));
}

} // namespace
} // namespace halcyon::vswitch
