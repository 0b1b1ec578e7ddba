// AMD nested page tables (NPT) for one partition: guest-physical -> host-physical.
//
// NPT entries are ordinary long-mode page-table entries (X86PageFormat), walked by the CPU as a
// USER access (AMD APM vol. 2, 15.25.5), so every leaf needs U=1 (the template already sets U on
// non-leaf entries). Policy kept here, not in callers:
//   - only memory handed in by the caller is mapped, and the caller hands in only frames it got
//     from the FrameAllocator, which never gives out the core image, its page tables, the
//     allocator's own bitmaps or anything reserved: the core's memory cannot appear in a guest;
//   - guest memory is write-back, readable, writable and executable; the all-ones "unbacked"
//     page is mapped read-only.
// Not thread-safe (one partition's tables are changed by one CPU at a time), and like the
// template it does not flush TLBs: callers request a flush from each vCPU after unmap/protect.
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/page_table.hpp"
#include "mm/page_table_policies.hpp"

#include <optional>
#include <stdint.h>
#include <utility>

namespace halcyon::mm {

inline constexpr Attributes kGuestMemory{
    .writable = true, .executable = true, .user = true, .cache = CacheMode::write_back};
inline constexpr Attributes kGuestReadOnly{
    .writable = false, .executable = true, .user = true, .cache = CacheMode::write_back};

class NestedPageTable {
public:
    [[nodiscard]] static ErrorOr<NestedPageTable> create(FrameAllocator& frames,
                                                         PhysicalWindow window) {
        auto table =
            TRY(X86PageTable::create(WindowTableMemory(window), FrameTableAllocator(frames, window),
                                     LargePages{.size_2m = true, .size_1g = false}));
        return NestedPageTable(std::move(table));
    }

    NestedPageTable(NestedPageTable&&) = default;

    // nCR3: the physical address of the PML4.
    [[nodiscard]] uint64_t root() const { return table_.root(); }

    // Maps [guest_physical, +size) to host memory starting at host_physical.
    [[nodiscard]] ErrorOr<void> map(uint64_t guest_physical, uint64_t host_physical, uint64_t size,
                                    Attributes attributes) {
        if (!attributes.user)
            return Error(ErrorCode::invalid_argument, "NPT mappings need the user bit");
        return table_.map(guest_physical, host_physical, size, attributes);
    }
    [[nodiscard]] ErrorOr<void> unmap(uint64_t guest_physical, uint64_t size) {
        return table_.unmap(guest_physical, size);
    }
    // Write protection for dirty tracking later: same pages, new attributes.
    [[nodiscard]] ErrorOr<void> protect(uint64_t guest_physical, uint64_t size,
                                        Attributes attributes) {
        return table_.protect(guest_physical, size, attributes);
    }

    // Guest-physical to host-physical, or nullopt when the guest has nothing there.
    [[nodiscard]] std::optional<Translation> lookup(uint64_t guest_physical) const {
        return table_.lookup(guest_physical);
    }

    void destroy() { table_.destroy(); }

private:
    explicit NestedPageTable(X86PageTable table) : table_(std::move(table)) {}

    X86PageTable table_;
};

} // namespace halcyon::mm
