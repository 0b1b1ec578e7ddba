// The management partition's memory (mgmt/partition/partition_memory.hpp): a bump allocator over
// its identity-mapped free memory (device address == pointer), and MMIO "mapping" that is the
// identity within the partition's identity map (512 GiB, plus the BARs' gigabytes above it).
#include "mgmt/partition/partition_memory.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

namespace halcyon::mgmt::partition {
namespace {

constexpr size_t kBytes = 64 * 1024;

struct Buffer {
    Buffer() : data(static_cast<uint8_t*>(std::aligned_alloc(4096, kBytes))) {
        std::memset(data, 0xA5, kBytes);
    }
    ~Buffer() { std::free(data); }
    uint64_t base() const { return reinterpret_cast<uint64_t>(data); }
    uint8_t* data;
};

TEST(MgmtPartitionMemory, AllocatesZeroedPagesWhoseDeviceAddressIsThePointer) {
    Buffer buffer;
    PartitionMemory memory(buffer.base(), buffer.base() + kBytes);
    auto first = memory.allocate_dma(100);
    ASSERT_FALSE(first.is_error());
    EXPECT_EQ(first.value().device_address, buffer.base());
    EXPECT_EQ(reinterpret_cast<uint64_t>(first.value().virt), first.value().device_address);
    EXPECT_EQ(first.value().size, 4096u);
    for (size_t i = 0; i < 4096; ++i)
        ASSERT_EQ(first.value().virt[i], 0) << i;
    auto second = memory.allocate_dma(4097);
    ASSERT_FALSE(second.is_error());
    EXPECT_EQ(second.value().device_address, buffer.base() + 4096);
    EXPECT_EQ(second.value().size, 8192u);
    EXPECT_EQ(memory.free_bytes(), kBytes - 3 * 4096);
    EXPECT_EQ(memory.used_bytes(buffer.base()), 3 * 4096u);
    EXPECT_EQ(buffer.data[3 * 4096], 0xA5); // nothing past the allocations was touched
}

TEST(MgmtPartitionMemory, RefusesEmptyAndExhaustingAllocations) {
    Buffer buffer;
    PartitionMemory memory(buffer.base(), buffer.base() + kBytes);
    EXPECT_EQ(memory.allocate_dma(0).error().code(), ErrorCode::invalid_argument);
    EXPECT_EQ(memory.allocate_dma(kBytes + 1).error().code(), ErrorCode::out_of_memory);
    ASSERT_FALSE(memory.allocate_dma(kBytes).is_error()); // exactly all of it
    EXPECT_EQ(memory.free_bytes(), 0u);
    EXPECT_EQ(memory.allocate_dma(1).error().code(), ErrorCode::out_of_memory);
}

TEST(MgmtPartitionMemory, MmioIsIdentityWithinTheIdentityMap) {
    PartitionMemory memory(0, 0);
    auto bar = memory.map_mmio(0xFEBD'0000, 0x1000);
    ASSERT_FALSE(bar.is_error());
    EXPECT_EQ(reinterpret_cast<uint64_t>(bar.value()), 0xFEBD'0000u);
    auto high = memory.map_mmio(0x80'0000'0000ull - 0x4000, 0x4000); // last 16 KiB below 512 GiB
    EXPECT_FALSE(high.is_error());
    // Above 512 GiB the core maps the BARs' gigabytes itself (OVMF's 64-bit BARs: 896 GiB),
    // up to the end of the lower canonical half.
    EXPECT_FALSE(memory.map_mmio(0xE0'0000'0000ull, 0x4000).is_error());
    EXPECT_EQ(memory.map_mmio((1ull << 47) - 0x1000, 0x2000).error().code(),
              ErrorCode::out_of_range);
    EXPECT_EQ(memory.map_mmio(0x1000, 0).error().code(), ErrorCode::out_of_range);
}

} // namespace
} // namespace halcyon::mgmt::partition
