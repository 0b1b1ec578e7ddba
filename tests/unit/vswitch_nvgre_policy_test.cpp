// NVGRE lookup policy: VSID range (RFC 7637 / seeds), 10,000+ CA->PA records checked against a
// std::map through inserts, updates (VM moved to another PA) and removals, capacity limits, and
// routing-domain isolation of overlapping customer addresses.
#include "vswitch/nvgre/policy_table.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <tuple>
#include <vector>

namespace {

using namespace halcyon::vswitch::nvgre;
using halcyon::ErrorCode;
using halcyon::vswitch::MacAddress;

constexpr RoutingDomainId kBlue{0x1111111122223333ull, 0x4444000000000001ull};
constexpr RoutingDomainId kYellow{0x1111111122223333ull, 0x4444000000000002ull};

struct Policy {
    std::vector<RecordSlot> records;
    std::vector<SubnetSlot> subnets;
    PolicyTable table;

    explicit Policy(size_t record_capacity, size_t subnet_capacity = 16)
        : records(PolicyTable::slot_count_for(record_capacity)),
          subnets(PolicyTable::slot_count_for(subnet_capacity)),
          table(PolicyTable::create(records, subnets).release_value()) {}
};

MacAddress mac_for(uint32_t n) {
    return MacAddress{{0x00, 0x15, 0x5D, static_cast<uint8_t>(n >> 16),
                       static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)}};
}

NetAddress ca_for(uint32_t n) {
    return NetAddress::v4(10, static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8),
                          static_cast<uint8_t>(n));
}

TEST(VswitchNvgrePolicy, VsidRangeFollowsRfc7637) {
    Policy policy(16);
    EXPECT_TRUE(is_valid_vsid(4096));
    EXPECT_TRUE(is_valid_vsid(16777214));
    EXPECT_FALSE(is_valid_vsid(4095));
    EXPECT_FALSE(is_valid_vsid(16777215));
    EXPECT_FALSE(is_valid_vsid(0));
    EXPECT_FALSE(policy.table.set_subnet({4096, kBlue, {}, false}).is_error());
    EXPECT_FALSE(policy.table.set_subnet({16777214, kBlue, {}, false}).is_error());
    EXPECT_EQ(policy.table.set_subnet({4095, kBlue, {}, false}).error().code(),
              ErrorCode::invalid_argument);
    EXPECT_EQ(policy.table.set_subnet({16777215, kBlue, {}, false}).error().code(),
              ErrorCode::invalid_argument);
    // A subnet cannot silently change routing domain (its records would be stranded).
    EXPECT_EQ(policy.table.set_subnet({4096, kYellow, {}, false}).error().code(),
              ErrorCode::already_exists);
}

TEST(VswitchNvgrePolicy, RecordsNeedAKnownSubnetOfTheSameDomain) {
    Policy policy(16);
    ASSERT_FALSE(
        policy.table.set_subnet({5001, kBlue, NetAddress::v4(10, 1, 1, 1), true}).is_error());
    LookupRecord record{kBlue, 5002, NetAddress::v4(10, 1, 1, 2), mac_for(2),
                        NetAddress::v4(192, 168, 1, 12)};
    EXPECT_EQ(policy.table.set_record(record).error().code(), ErrorCode::not_found);
    record.vsid = 5001;
    record.routing_domain = kYellow;
    EXPECT_EQ(policy.table.set_record(record).error().code(), ErrorCode::invalid_argument);
    record.routing_domain = kBlue;
    record.customer_mac = MacAddress{{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}};
    EXPECT_EQ(policy.table.set_record(record).error().code(), ErrorCode::invalid_argument);
    record.customer_mac = mac_for(2);
    EXPECT_FALSE(policy.table.set_record(record).is_error());
    EXPECT_TRUE(policy.table.is_gateway(5001, NetAddress::v4(10, 1, 1, 1)));
    EXPECT_FALSE(policy.table.is_gateway(5001, NetAddress::v4(10, 1, 1, 2)));
}

TEST(VswitchNvgrePolicy, OverlappingCustomerAddressesStayInTheirDomain) {
    // The seeds' Blue/Yellow example: both run SQL at 10.1.1.1 and WEB at 10.1.1.2.
    Policy policy(16);
    ASSERT_FALSE(policy.table.set_subnet({5001, kBlue, {}, false}).is_error());
    ASSERT_FALSE(policy.table.set_subnet({6001, kYellow, {}, false}).is_error());
    const NetAddress sql = NetAddress::v4(10, 1, 1, 1);
    ASSERT_FALSE(
        policy.table.set_record({kBlue, 5001, sql, mac_for(1), NetAddress::v4(192, 168, 1, 10)})
            .is_error());
    ASSERT_FALSE(
        policy.table.set_record({kYellow, 6001, sql, mac_for(3), NetAddress::v4(192, 168, 1, 11)})
            .is_error());
    EXPECT_EQ(policy.table.record(kBlue, sql)->provider_address, NetAddress::v4(192, 168, 1, 10));
    EXPECT_EQ(policy.table.record(kYellow, sql)->provider_address, NetAddress::v4(192, 168, 1, 11));
    EXPECT_EQ(policy.table.record(kBlue, NetAddress::v4(10, 1, 1, 2)), nullptr);
    EXPECT_EQ(policy.table.record_count(), 2u);
    // The same bytes as IPv6 are a different address.
    NetAddress as_v6 = sql;
    as_v6.is_ipv6 = true;
    EXPECT_EQ(policy.table.record(kBlue, as_v6), nullptr);
}

TEST(VswitchNvgrePolicy, TenThousandRecordsAgainstAReferenceMap) {
    constexpr size_t kCapacity = 12'000;
    Policy policy(kCapacity, 64);
    const RoutingDomainId domains[2] = {kBlue, kYellow};
    for (Vsid vsid = 5000; vsid < 5010; ++vsid)
        ASSERT_FALSE(policy.table.set_subnet({vsid, domains[vsid % 2], {}, false}).is_error());

    using Key = std::tuple<uint64_t, uint32_t>; // domain low word, CA number
    std::map<Key, LookupRecord> reference;
    std::mt19937_64 rng(7);
    auto random_record = [&](uint32_t n) {
        Vsid vsid = 5000 + static_cast<Vsid>(rng() % 10);
        return LookupRecord{
            domains[vsid % 2], vsid, ca_for(n), mac_for(n),
            NetAddress::v4(192, 168, static_cast<uint8_t>(rng() % 8), static_cast<uint8_t>(rng()))};
    };
    for (uint32_t n = 0; n < 11'000; ++n) {
        LookupRecord record = random_record(n % 9500); // some CAs appear in both domains
        ASSERT_FALSE(policy.table.set_record(record).is_error()) << n;
        reference[{record.routing_domain.low, n % 9500}] = record;
    }
    ASSERT_GE(reference.size(), 10'000u);
    ASSERT_EQ(policy.table.record_count(), reference.size());
    // Churn: VMs move (new PA), leave, and arrive.
    for (int step = 0; step < 20'000; ++step) {
        uint32_t n = static_cast<uint32_t>(rng() % 9500);
        const RoutingDomainId& domain = domains[rng() % 2];
        Key key{domain.low, n};
        switch (rng() % 3) {
        case 0: {
            auto result = policy.table.remove_record(domain, ca_for(n));
            ASSERT_EQ(result.is_error(), reference.erase(key) == 0);
            break;
        }
        case 1: {
            LookupRecord record = random_record(n);
            if (!(record.routing_domain == domain))
                break;
            auto result = policy.table.set_record(record);
            if (result.is_error()) {
                ASSERT_EQ(result.error().code(), ErrorCode::out_of_memory);
                ASSERT_EQ(reference.count(key), 0u);
                ASSERT_GE(reference.size(), policy.table.record_capacity());
            } else {
                reference[key] = record;
            }
            break;
        }
        default: {
            const LookupRecord* found = policy.table.record(domain, ca_for(n));
            auto it = reference.find(key);
            ASSERT_EQ(found != nullptr, it != reference.end());
            if (found) {
                EXPECT_EQ(found->provider_address, it->second.provider_address);
                EXPECT_EQ(found->vsid, it->second.vsid);
            }
        }
        }
    }
    ASSERT_EQ(policy.table.record_count(), reference.size());
    EXPECT_GT(reference.size(), 5'000u);
    for (const auto& [key, record] : reference) {
        const LookupRecord* found =
            policy.table.record(record.routing_domain, record.customer_address);
        ASSERT_NE(found, nullptr);
        EXPECT_EQ(found->customer_mac, record.customer_mac);
        EXPECT_EQ(found->provider_address, record.provider_address);
    }
}

TEST(VswitchNvgrePolicy, FullTableRefusesNewRecordsButAcceptsUpdates) {
    Policy policy(6); // 8 slots, 6 usable
    ASSERT_FALSE(policy.table.set_subnet({5001, kBlue, {}, false}).is_error());
    for (uint32_t n = 0; n < policy.table.record_capacity(); ++n)
        ASSERT_FALSE(
            policy.table
                .set_record({kBlue, 5001, ca_for(n), mac_for(n), NetAddress::v4(1, 1, 1, 1)})
                .is_error());
    EXPECT_EQ(
        policy.table.set_record({kBlue, 5001, ca_for(99), mac_for(99), NetAddress::v4(1, 1, 1, 1)})
            .error()
            .code(),
        ErrorCode::out_of_memory);
    EXPECT_FALSE(
        policy.table.set_record({kBlue, 5001, ca_for(0), mac_for(0), NetAddress::v4(2, 2, 2, 2)})
            .is_error());
    EXPECT_EQ(policy.table.record(kBlue, ca_for(0))->provider_address, NetAddress::v4(2, 2, 2, 2));
    EXPECT_EQ(policy.table.remove_record(kBlue, ca_for(99)).error().code(), ErrorCode::not_found);
}

TEST(VswitchNvgrePolicy, RejectsNonPowerOfTwoSlots) {
    std::vector<RecordSlot> records(10);
    std::vector<SubnetSlot> subnets(8);
    EXPECT_TRUE(PolicyTable::create(records, subnets).is_error());
}

} // namespace
