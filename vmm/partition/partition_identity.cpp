// Identity-mapped memory for the management partition (docs/management-partition.md,
// "Memory"): its RAM is one contiguous host region seen at guest-physical = host-physical, so
// a physical address it hands a DMA-capable device (its NIC) is the address the device uses;
// and the NIC's registers are mapped the same way, uncached. The RAM is kept as ordinary 2 MiB
// chunks, so everything else of the partition (loaders, hypercall blocks, reset) works on it
// unchanged.
#include "boot/handoff/handoff.hpp"
#include "vmm/partition/partition.hpp"

#include <string.h>

namespace halcyon::vmm {
namespace {

constexpr uint64_t kChunkSize = 2ull << 20;
constexpr uint64_t kChunkPages = kChunkSize / mm::kPageSize;
constexpr mm::Attributes kDeviceMemory{
    .writable = true, .executable = false, .user = true, .cache = mm::CacheMode::uncached};

bool overlaps(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size) {
    return a < b + b_size && b < a + a_size;
}

} // namespace

ErrorOr<uint64_t> Partition::add_identity_memory(uint64_t size) {
    if (size == 0 || size % kChunkSize != 0)
        return Error(ErrorCode::invalid_argument, "identity memory must be 2 MiB sized");
    const uint64_t chunks = size / kChunkSize;
    if (chunk_count_ + chunks > kMaxMemoryChunks)
        return Error(ErrorCode::out_of_range, "too many guest memory chunks");
    const uint64_t base = TRY(frames_->allocate(size / mm::kPageSize, kChunkPages));
    // Below the local APIC page and the device hole under 4 GiB, or above 4 GiB: never where
    // the partition's emulated devices are.
    if (overlaps(base, size, 0xFEC0'0000, 0x140'0000)) {
        (void)frames_->free(base, size / mm::kPageSize);
        return Error(ErrorCode::out_of_range, "identity memory would cover the APIC pages");
    }
    mm::SpinLockGuard guard(memory_lock_);
    for (uint64_t offset = 0; offset < size; offset += kChunkSize) {
        const uint64_t host = base + offset;
        memset(reinterpret_cast<void*>(handoff::kDirectMapBase + host), 0, kChunkSize);
        auto mapped = npt_.map(host, host, kChunkSize, mm::kGuestMemory);
        if (mapped.is_error()) {
            // The chunks mapped so far are the partition's (freed with it); the rest go back.
            (void)frames_->free(host, (size - offset) / mm::kPageSize);
            return mapped.release_error();
        }
        // Kept in guest-physical order (host_pointer() and attach_memory() rely on it).
        uint32_t at = chunk_count_;
        while (at > 0 && chunks_[at - 1].guest_physical > host)
            --at;
        memmove(&chunks_[at + 1], &chunks_[at], (chunk_count_ - at) * sizeof(Chunk));
        chunks_[at] = Chunk{host, host, kChunkSize};
        ++chunk_count_;
        memory_bytes_ += kChunkSize;
    }
    return base;
}

ErrorOr<void> Partition::map_device_memory(uint64_t physical, uint64_t size) {
    if (physical % mm::kPageSize != 0 || size == 0 || size % mm::kPageSize != 0)
        return Error(ErrorCode::invalid_argument, "device memory must be 4 KiB aligned and sized");
    if (physical + size < physical)
        return Error(ErrorCode::out_of_range, "device memory range wraps");
    if (overlaps(physical, size, kLapicBase, mm::kPageSize))
        return Error(ErrorCode::invalid_argument, "device memory over the local APIC page");
    for (uint32_t i = 0; i < mmio_region_count_; ++i) {
        if (overlaps(physical, size, mmio_regions_[i].guest_physical, mmio_regions_[i].size))
            return Error(ErrorCode::invalid_argument, "device memory over an emulated device");
    }
    mm::SpinLockGuard guard(memory_lock_);
    for (uint32_t i = 0; i < chunk_count_; ++i) {
        if (overlaps(physical, size, chunks_[i].guest_physical, chunks_[i].size))
            return Error(ErrorCode::invalid_argument, "device memory over the partition's RAM");
    }
    return npt_.map(physical, physical, size, kDeviceMemory);
}

uint64_t Partition::ram_limit() const {
    uint64_t limit = 0;
    for (uint32_t i = 0; i < chunk_count_; ++i) {
        const uint64_t end = chunks_[i].guest_physical + chunks_[i].size;
        if (end > limit)
            limit = end;
    }
    return limit;
}

} // namespace halcyon::vmm
