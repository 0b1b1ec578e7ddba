#include "vmm/worker/linux/e820.hpp"

namespace halcyon::worker::linux_boot {

ErrorOr<size_t> build_e820_map(uint64_t memory_bytes, std::span<E820Entry> out) {
    if (memory_bytes <= kHighMemoryStart)
        return Error(ErrorCode::out_of_range, "guest memory must extend beyond 1 MiB");
    if (memory_bytes > kMaxGuestMemory)
        return Error(ErrorCode::not_supported,
                     "guest memory above 3 GiB needs a split around the MMIO window");
    if (out.size() < kGuestE820Entries)
        return Error(ErrorCode::invalid_argument, "e820 output holds fewer than 4 entries");
    out[0] = E820Entry{0, kConventionalMemoryEnd, kE820Ram};
    out[1] =
        E820Entry{kConventionalMemoryEnd, kLegacyHoleStart - kConventionalMemoryEnd, kE820Reserved};
    out[2] = E820Entry{kBiosAreaStart, kHighMemoryStart - kBiosAreaStart, kE820Reserved};
    out[3] = E820Entry{kHighMemoryStart, memory_bytes - kHighMemoryStart, kE820Ram};
    return kGuestE820Entries;
}

} // namespace halcyon::worker::linux_boot
