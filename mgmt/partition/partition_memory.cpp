#include "mgmt/partition/partition_memory.hpp"

#include <string.h>

namespace halcyon::mgmt::partition {
namespace {

constexpr uint64_t kPageSize = 4096;
// The initial page tables map guest-virtual 0 .. 512 GiB identity (contract), and the core adds
// identity 1 GiB pages for the NIC's registers above that (firmware puts 64-bit BARs high, e.g.
// OVMF at 896 GiB), anywhere in the lower canonical half.
constexpr uint64_t kIdentityLimit = 1ull << 47;

} // namespace

ErrorOr<drivers::DmaRegion> PartitionMemory::allocate_dma(size_t size) {
    if (size == 0)
        return Error(ErrorCode::invalid_argument, "empty DMA allocation");
    const uint64_t bytes = (uint64_t(size) + kPageSize - 1) & ~(kPageSize - 1);
    if (bytes > end_ - next_)
        return Error(ErrorCode::out_of_memory, "management partition memory exhausted");
    const uint64_t physical = next_;
    next_ += bytes;
    auto* virt = reinterpret_cast<uint8_t*>(physical);
    memset(virt, 0, bytes);
    return drivers::DmaRegion{virt, physical, bytes};
}

ErrorOr<volatile uint8_t*> PartitionMemory::map_mmio(uint64_t physical, uint64_t size) {
    if (size == 0 || physical >= kIdentityLimit || size > kIdentityLimit - physical)
        return Error(ErrorCode::out_of_range, "device registers outside the identity map");
    return reinterpret_cast<volatile uint8_t*>(physical);
}

} // namespace halcyon::mgmt::partition
