// A partition's guest-physical address space in whichever nested-paging format the CPU walks:
// AMD NPT (long-mode entries, mm/npt.hpp) or Intel EPT (mm/ept.hpp). The partition picks the
// format once, when it is created (from its CPU backend), and from then on maps, unmaps,
// protects and looks up guest memory without naming a vendor.
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/ept.hpp"
#include "mm/npt.hpp"

#include <optional>
#include <stdint.h>
#include <utility>

namespace halcyon::mm {

enum class NestedFormat : uint8_t { npt, ept };

class GuestPhysicalTable {
public:
    [[nodiscard]] static ErrorOr<GuestPhysicalTable>
    create(NestedFormat format, FrameAllocator& frames, PhysicalWindow window) {
        if (format == NestedFormat::ept)
            return GuestPhysicalTable(TRY(ExtendedPageTable::create(frames, window)));
        return GuestPhysicalTable(TRY(NestedPageTable::create(frames, window)));
    }

    GuestPhysicalTable(GuestPhysicalTable&&) = default;

    [[nodiscard]] NestedFormat format() const {
        return ept_.has_value() ? NestedFormat::ept : NestedFormat::npt;
    }
    // nCR3 for NPT, the EPT pointer's address for EPT.
    [[nodiscard]] uint64_t root() const { return ept_ ? ept_->root() : npt_->root(); }

    [[nodiscard]] ErrorOr<void> map(uint64_t guest_physical, uint64_t host_physical, uint64_t size,
                                    Attributes attributes) {
        return ept_ ? ept_->map(guest_physical, host_physical, size, attributes)
                    : npt_->map(guest_physical, host_physical, size, attributes);
    }
    [[nodiscard]] ErrorOr<void> unmap(uint64_t guest_physical, uint64_t size) {
        return ept_ ? ept_->unmap(guest_physical, size) : npt_->unmap(guest_physical, size);
    }
    [[nodiscard]] ErrorOr<void> protect(uint64_t guest_physical, uint64_t size,
                                        Attributes attributes) {
        return ept_ ? ept_->protect(guest_physical, size, attributes)
                    : npt_->protect(guest_physical, size, attributes);
    }
    [[nodiscard]] std::optional<Translation> lookup(uint64_t guest_physical) const {
        return ept_ ? ept_->lookup(guest_physical) : npt_->lookup(guest_physical);
    }

    void destroy() {
        if (ept_)
            ept_->destroy();
        else
            npt_->destroy();
    }

private:
    explicit GuestPhysicalTable(NestedPageTable npt) : npt_(std::move(npt)) {}
    explicit GuestPhysicalTable(ExtendedPageTable ept) : ept_(std::move(ept)) {}

    // Exactly one is engaged.
    std::optional<NestedPageTable> npt_;
    std::optional<ExtendedPageTable> ept_;
};

} // namespace halcyon::mm
