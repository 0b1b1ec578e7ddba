// The root partition's bookkeeping (vmm/root/memory_ledger.hpp, partition_table.hpp): which
// large pages a root may give away, where child memory may go, child ids and states, the
// accounting of deposits, and CPUID intercept sets.
#include "vmm/root/memory_ledger.hpp"
#include "vmm/root/partition_table.hpp"

#include <gtest/gtest.h>
#include <memory>

namespace halcyon::vmm::root {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

uint64_t pfn(uint64_t address) {
    return address >> 12;
}

TEST(RootMemoryLedger, CoversTheRootsWholeLargePages) {
    EXPECT_EQ(MemoryLedger(16 * kMiB).large_pages(), 8u);
    EXPECT_EQ(MemoryLedger(17 * kMiB).large_pages(), 8u); // a partial page stays the root's
    EXPECT_EQ(MemoryLedger(0).large_pages(), 0u);
    EXPECT_EQ(std::make_unique<MemoryLedger>(8ull << 30)->large_pages(), kMaxRootLargePages);
}

TEST(RootMemoryLedger, RootPagesMustBeAlignedOwnedAndPresent) {
    auto ledger = std::make_unique<MemoryLedger>(16 * kMiB);
    uint32_t index = 99;
    EXPECT_EQ(ledger->check_root_page(pfn(4 * kMiB), index), Status::success);
    EXPECT_EQ(index, 2u);
    EXPECT_EQ(ledger->check_root_page(pfn(4 * kMiB) + 1, index), Status::invalid_parameter);
    EXPECT_EQ(ledger->check_root_page(pfn(16 * kMiB), index), Status::invalid_parameter);
    EXPECT_EQ(ledger->check_root_page(pfn(0xFEE0'0000), index), Status::invalid_parameter);
    EXPECT_EQ(ledger->check_root_page(~0ull, index), Status::invalid_parameter);
    EXPECT_EQ(ledger->check_root_page(~0ull - 511, index), Status::invalid_parameter);

    ledger->record_mapped(2, 5, 0, 0x4000'0000);
    EXPECT_EQ(ledger->check_root_page(pfn(4 * kMiB), index), Status::invalid_parameter);
    ledger->record_deposited(3, 5, 0x4020'0000);
    EXPECT_EQ(ledger->check_root_page(pfn(6 * kMiB), index), Status::invalid_parameter);
    EXPECT_EQ(ledger->count(Place::root, 0), 6u);
    EXPECT_EQ(ledger->count(Place::mapped, 5), 1u);
    EXPECT_EQ(ledger->count(Place::deposited, 5), 1u);
    EXPECT_EQ(ledger->count(Place::deposited, 6), 0u);
    ledger->record_returned(2);
    EXPECT_EQ(ledger->check_root_page(pfn(4 * kMiB), index), Status::success);
    EXPECT_EQ(ledger->entry(2).host_physical, 0u);
}

TEST(RootMemoryLedger, ChildAddresses) {
    auto ledger = std::make_unique<MemoryLedger>(16 * kMiB);
    EXPECT_EQ(ledger->check_child_address(5, 0), Status::success);
    EXPECT_EQ(ledger->check_child_address(5, 4096), Status::invalid_parameter);
    EXPECT_EQ(ledger->check_child_address(5, 0xFEE0'0000), Status::invalid_parameter);
    EXPECT_EQ(ledger->check_child_address(5, 0xFEC0'0000), Status::success);
    EXPECT_EQ(ledger->check_child_address(5, kChildAddressLimit - 2 * kMiB), Status::success);
    EXPECT_EQ(ledger->check_child_address(5, kChildAddressLimit), Status::invalid_parameter);
    ledger->record_mapped(4, 5, 2 * kMiB, 0x1234'0000'0000);
    EXPECT_EQ(ledger->check_child_address(5, 2 * kMiB), Status::invalid_parameter);
    EXPECT_EQ(ledger->check_child_address(6, 2 * kMiB), Status::success); // another child
    EXPECT_EQ(ledger->find_mapped(5, 2 * kMiB), std::optional<uint32_t>(4));
    EXPECT_FALSE(ledger->find_mapped(6, 2 * kMiB));
    EXPECT_FALSE(ledger->find_mapped(5, 0));
    EXPECT_EQ(ledger->entry(4).host_physical, 0x1234'0000'0000u);
}

TEST(RootMemoryLedger, Deposits) {
    auto ledger = std::make_unique<MemoryLedger>(16 * kMiB);
    EXPECT_FALSE(ledger->find_deposited(5));
    ledger->record_deposited(6, 5, 0xA000'0000);
    ledger->record_deposited(7, 5, 0xA020'0000);
    ledger->record_deposited(5, 9, 0xA040'0000);
    EXPECT_EQ(ledger->find_deposited(5), std::optional<uint32_t>(6));
    ledger->record_returned(6);
    EXPECT_EQ(ledger->find_deposited(5), std::optional<uint32_t>(7));
    EXPECT_EQ(ledger->find_deposited(9), std::optional<uint32_t>(5));
    EXPECT_EQ(MemoryLedger::root_address(7), 14 * kMiB);
}

TEST(RootPartitionTable, IdsStartAfterTheRootAndAreNeverReused) {
    PartitionTable table;
    ChildRecord* a = nullptr;
    ChildRecord* b = nullptr;
    ASSERT_EQ(table.create(a), Status::success);
    ASSERT_EQ(table.create(b), Status::success);
    EXPECT_EQ(a->id, kRootPartitionId + 1);
    EXPECT_EQ(b->id, kRootPartitionId + 2);
    EXPECT_EQ(a->state, ChildState::created);
    EXPECT_EQ(table.find(a->id), a);
    EXPECT_EQ(table.find(kRootPartitionId), nullptr);
    EXPECT_EQ(table.find(kPartitionIdInvalid), nullptr);
    EXPECT_EQ(table.find(kPartitionIdSelf), nullptr);
    const uint64_t gone = a->id;
    table.remove(*a);
    EXPECT_EQ(table.find(gone), nullptr);
    ChildRecord* c = nullptr;
    ASSERT_EQ(table.create(c), Status::success);
    EXPECT_EQ(c->id, kRootPartitionId + 3); // the freed slot, a fresh id
    EXPECT_EQ(table.find(gone), nullptr);
    EXPECT_EQ(table.live(), 2u);
    EXPECT_EQ(table.index_of(*c), 0u);
}

TEST(RootPartitionTable, Capacity) {
    PartitionTable table;
    ChildRecord* record = nullptr;
    for (uint32_t i = 0; i < kMaxChildren; ++i)
        ASSERT_EQ(table.create(record), Status::success);
    EXPECT_EQ(table.create(record), Status::no_resources);
    table.remove(table.slot(3));
    EXPECT_EQ(table.create(record), Status::success);
    EXPECT_EQ(table.index_of(*record), 3u);
}

TEST(RootPartitionTable, DepositAccounting) {
    ChildRecord record;
    EXPECT_EQ(record.charge(kPartitionChargePages), Status::insufficient_memory);
    EXPECT_EQ(record.charged_pages, 0u);
    record.deposited_pages = kPagesPerLargePage;
    EXPECT_EQ(record.charge(kPartitionChargePages), Status::success);
    EXPECT_FALSE(record.can_withdraw_large_page());
    for (uint64_t used = kPartitionChargePages; used + kVpChargePages <= kPagesPerLargePage;
         used += kVpChargePages)
        EXPECT_EQ(record.charge(kVpChargePages), Status::success);
    EXPECT_EQ(record.charge(kVpChargePages), Status::insufficient_memory);
    // A second large page is not needed by the charges: it may go back, the first may not.
    record.deposited_pages += kPagesPerLargePage;
    EXPECT_TRUE(record.can_withdraw_large_page());
    record.deposited_pages -= kPagesPerLargePage;
    EXPECT_FALSE(record.can_withdraw_large_page());
}

TEST(RootPartitionTable, CpuidIntercepts) {
    CpuidIntercepts cpuid;
    EXPECT_FALSE(cpuid.covers(0));
    EXPECT_EQ(cpuid.install(0x1337'0000), Status::success);
    EXPECT_EQ(cpuid.install(0x1337'0000), Status::success); // idempotent
    EXPECT_TRUE(cpuid.covers(0x1337'0000));
    EXPECT_FALSE(cpuid.covers(0x1337'0001));
    for (uint32_t leaf = 1; leaf < kMaxCpuidIntercepts; ++leaf)
        EXPECT_EQ(cpuid.install(leaf), Status::success);
    EXPECT_EQ(cpuid.install(0x8000'0000), Status::no_resources);
    EXPECT_FALSE(cpuid.covers(0x8000'0000));
    cpuid.install_all();
    EXPECT_TRUE(cpuid.covers(0x8000'0000));
}

} // namespace
} // namespace halcyon::vmm::root
