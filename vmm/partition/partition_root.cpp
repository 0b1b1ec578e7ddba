// Memory that moves between partitions, for the root partition's interface (vmm/root,
// docs/management-partition.md "Memory"): a 2 MiB chunk of RAM leaves one partition's nested
// tables and joins another's, frames and contents unchanged. Nothing is copied or zeroed: the
// root prepares a child's memory by writing it before handing it over, and gets the child's
// writes back with it.
#include "vmm/partition/partition.hpp"

#include <string.h>

namespace halcyon::vmm {
namespace {

constexpr uint64_t kChunkSize = 2ull << 20;

} // namespace

ErrorOr<uint64_t> Partition::detach_memory(uint64_t guest_physical) {
    if (guest_physical % kChunkSize != 0)
        return Error(ErrorCode::invalid_argument, "memory moves in 2 MiB aligned chunks");
    mm::SpinLockGuard guard(memory_lock_);
    uint32_t found = chunk_count_;
    for (uint32_t i = 0; i < chunk_count_; ++i) {
        if (chunks_[i].guest_physical == guest_physical && chunks_[i].size == kChunkSize) {
            found = i;
            break;
        }
    }
    if (found == chunk_count_)
        return Error(ErrorCode::not_found, "no 2 MiB chunk of RAM there");
    TRY(npt_.unmap(guest_physical, kChunkSize));
    const uint64_t host = chunks_[found].host_physical;
    // Keep the chunks in guest-physical order: host_pointer() guesses chunk n holds n * 2 MiB.
    memmove(&chunks_[found], &chunks_[found + 1], (chunk_count_ - found - 1) * sizeof(Chunk));
    --chunk_count_;
    memory_bytes_ -= kChunkSize;
    // Every vCPU drops its translations of the chunk before it enters again. The caller
    // guarantees none is in the guest on another CPU meanwhile.
    for (uint32_t i = 0; i < vcpu_count_; ++i)
        vcpus_[i].backend->request_tlb_flush();
    return host;
}

ErrorOr<void> Partition::attach_memory(uint64_t guest_physical, uint64_t host_physical) {
    if (guest_physical % kChunkSize != 0 || host_physical % kChunkSize != 0)
        return Error(ErrorCode::invalid_argument, "memory moves in 2 MiB aligned chunks");
    if (guest_physical + kChunkSize < guest_physical)
        return Error(ErrorCode::out_of_range, "guest-physical range wraps");
    if (kLapicBase - guest_physical < kChunkSize)
        return Error(ErrorCode::invalid_argument, "the local APIC page is never RAM");
    for (uint32_t i = 0; i < mmio_region_count_; ++i) {
        const MmioRegion& region = mmio_regions_[i];
        if (region.guest_physical < guest_physical + kChunkSize &&
            guest_physical < region.guest_physical + region.size)
            return Error(ErrorCode::invalid_argument, "an MMIO region is there");
    }
    mm::SpinLockGuard guard(memory_lock_);
    if (chunk_count_ == kMaxMemoryChunks)
        return Error(ErrorCode::out_of_range, "too many guest memory chunks");
    uint32_t at = chunk_count_;
    for (uint32_t i = 0; i < chunk_count_; ++i) {
        const Chunk& chunk = chunks_[i];
        if (chunk.guest_physical < guest_physical + kChunkSize &&
            guest_physical < chunk.guest_physical + chunk.size)
            return Error(ErrorCode::already_exists, "there is RAM there already");
        if (at == chunk_count_ && chunk.guest_physical > guest_physical)
            at = i;
    }
    // Replaces whatever the nested tables had there: read-only pages of the unbacked rule.
    TRY(npt_.map(guest_physical, host_physical, kChunkSize, mm::kGuestMemory));
    memmove(&chunks_[at + 1], &chunks_[at], (chunk_count_ - at) * sizeof(Chunk));
    chunks_[at] = Chunk{guest_physical, host_physical, kChunkSize};
    ++chunk_count_;
    memory_bytes_ += kChunkSize;
    for (uint32_t i = 0; i < vcpu_count_; ++i)
        vcpus_[i].backend->request_tlb_flush();
    return {};
}

} // namespace halcyon::vmm
