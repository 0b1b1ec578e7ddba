// Intel extended page tables (EPT) for one partition: guest-physical -> host-physical, the VT-x
// counterpart of mm/npt.hpp, over the same PageTable template with EptFormat entries.
//
// Policy is the same as NestedPageTable's (only frames the caller got from the FrameAllocator
// are ever mapped, guest memory is write-back RWX, the all-ones page read-only); the format
// differences are EptFormat's: no user bit (Attributes::user is accepted and ignored, so the
// partition can hand both tables the same attributes), the memory type in every leaf (write-back
// for guest RAM, the guest's PAT still combines with it because "ignore PAT" stays clear), and
// 1 GiB leaves only when IA32_VMX_EPT_VPID_CAP bit 17 says the CPU walks them.
// The accessed/dirty flags (bits 8 and 9) belong to the CPU when the EPT pointer enables them;
// the template never reads them and rewrites an entry whole, so they never confuse it.
// Not thread-safe, no TLB invalidation (INVEPT is the VT-x backend's job after unmap/protect).
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/ept_format.hpp"
#include "mm/page_table.hpp"
#include "mm/page_table_policies.hpp"

#include <optional>
#include <stdint.h>
#include <utility>

namespace halcyon::mm {

using EptPageTable = PageTable<EptFormat, WindowTableMemory, FrameTableAllocator>;

class ExtendedPageTable {
public:
    [[nodiscard]] static ErrorOr<ExtendedPageTable>
    create(FrameAllocator& frames, PhysicalWindow window,
           LargePages large_pages = LargePages{.size_2m = true, .size_1g = false}) {
        auto table = TRY(EptPageTable::create(WindowTableMemory(window),
                                              FrameTableAllocator(frames, window), large_pages));
        return ExtendedPageTable(std::move(table));
    }

    ExtendedPageTable(ExtendedPageTable&&) = default;

    // The physical address of the EPT PML4 (the EPT pointer's address bits).
    [[nodiscard]] uint64_t root() const { return table_.root(); }

    [[nodiscard]] ErrorOr<void> map(uint64_t guest_physical, uint64_t host_physical, uint64_t size,
                                    Attributes attributes) {
        return table_.map(guest_physical, host_physical, size, attributes);
    }
    [[nodiscard]] ErrorOr<void> unmap(uint64_t guest_physical, uint64_t size) {
        return table_.unmap(guest_physical, size);
    }
    [[nodiscard]] ErrorOr<void> protect(uint64_t guest_physical, uint64_t size,
                                        Attributes attributes) {
        return table_.protect(guest_physical, size, attributes);
    }
    [[nodiscard]] std::optional<Translation> lookup(uint64_t guest_physical) const {
        return table_.lookup(guest_physical);
    }

    void destroy() { table_.destroy(); }

private:
    explicit ExtendedPageTable(EptPageTable table) : table_(std::move(table)) {}

    EptPageTable table_;
};

} // namespace halcyon::mm
