// acpi::PhysicalView over the direct map, limited to [0, limit): the parser may only read what
// the active page tables map, so a corrupt table pointer becomes an error instead of a fault.
#pragma once

#include "boot/handoff/handoff.hpp"
#include "vmm/acpi/acpi.hpp"

namespace halcyon {

class DirectMapView final : public acpi::PhysicalView {
public:
    explicit DirectMapView(uint64_t limit) : limit_(limit) {}

    [[nodiscard]] ErrorOr<std::span<const uint8_t>> read(uint64_t physical,
                                                         uint64_t length) const override {
        if (length > limit_ || physical > limit_ - length)
            return Error(ErrorCode::out_of_range, "physical range is not in the direct map");
        return std::span<const uint8_t>(
            reinterpret_cast<const uint8_t*>(handoff::kDirectMapBase + physical), length);
    }

private:
    uint64_t limit_;
};

} // namespace halcyon
