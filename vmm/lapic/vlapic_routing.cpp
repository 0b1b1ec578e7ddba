// VirtualLapic destination matching, IPI routing and delivery of routed messages (SDM
// "Determining IPI Destination", "Logical Destination Mode", x2APIC "Logical Destination Mode
// in x2APIC Mode").
#include "vmm/lapic/vlapic.hpp"

namespace halcyon::vmm::lapic {

namespace {

constexpr uint32_t kXapicBroadcast = 0xFF;
constexpr uint32_t kX2apicBroadcast = 0xFFFFFFFF;

// Lowest priority: the lowest arbitration priority wins, ties go to the lowest APIC ID. A
// software-disabled LAPIC would drop the interrupt, so any enabled one is preferred to it.
bool better_lowest_priority_target(const VirtualLapic& candidate, const VirtualLapic& best) {
    if (candidate.software_enabled() != best.software_enabled()) {
        return candidate.software_enabled();
    }
    if (candidate.arbitration_priority() != best.arbitration_priority()) {
        return candidate.arbitration_priority() < best.arbitration_priority();
    }
    return candidate.apic_id() < best.apic_id();
}

} // namespace

bool VirtualLapic::matches(uint32_t destination, bool logical) const {
    switch (mode_) {
    case Mode::disabled:
        return false;
    case Mode::x2apic: {
        if (destination == kX2apicBroadcast) {
            return true;
        }
        if (!logical) {
            return destination == apic_id_;
        }
        // Cluster in bits 31:16 must be equal; any common bit in the 16-bit member mask.
        const uint32_t ldr = logical_destination();
        return (destination >> 16) == (ldr >> 16) && (destination & ldr & 0xFFFF) != 0;
    }
    case Mode::xapic:
        break;
    }
    if (destination == kXapicBroadcast) {
        return true;
    }
    if (!logical) {
        return destination == apic_id_;
    }
    if (destination > 0xFF) {
        return false;
    }
    const uint32_t logical_id = ldr_ >> 24;
    if ((dfr_ & dfr::model_flat) == dfr::model_flat) {
        return (destination & logical_id) != 0; // flat: 8-bit member mask
    }
    // Cluster: bits 7:4 select the cluster, bits 3:0 the members within it.
    return (destination >> 4) == (logical_id >> 4) && (destination & logical_id & 0xF) != 0;
}

size_t VirtualLapic::route(const Ipi& ipi, std::span<VirtualLapic* const> lapics,
                           std::span<VirtualLapic*> targets) {
    size_t count = 0;
    for (VirtualLapic* lapic : lapics) {
        if (lapic == nullptr || lapic->mode_ == Mode::disabled || count == targets.size()) {
            continue;
        }
        bool hit = false;
        switch (ipi.shorthand) {
        case Ipi::none:
            hit = lapic->matches(ipi.destination, ipi.logical);
            break;
        case Ipi::self:
            hit = lapic->apic_id_ == ipi.source_apic_id;
            break;
        case Ipi::all_including_self:
            hit = true;
            break;
        case Ipi::all_excluding_self:
            hit = lapic->apic_id_ != ipi.source_apic_id;
            break;
        }
        if (hit) {
            targets[count++] = lapic;
        }
    }
    if (ipi.mode == DeliveryMode::lowest_priority && count > 1) {
        VirtualLapic* best = targets[0];
        for (size_t index = 1; index < count; ++index) {
            if (better_lowest_priority_target(*targets[index], *best)) {
                best = targets[index];
            }
        }
        targets[0] = best;
        count = 1;
    }
    return count;
}

void VirtualLapic::deliver(const Ipi& ipi) {
    switch (ipi.mode) {
    case DeliveryMode::fixed:
    case DeliveryMode::lowest_priority:
        accept(ipi.vector, ipi.level_triggered);
        return;
    case DeliveryMode::nmi:
        accept_nmi();
        return;
    case DeliveryMode::init:
        if (!ipi.level_assert && ipi.level_triggered) {
            return; // INIT level de-assert
        }
        accept_init();
        return;
    case DeliveryMode::startup:
        accept_startup(ipi.vector);
        return;
    default:
        return; // SMI (no SMM in Halcyon guests), ExtINT (the 8259 never delivers), reserved
    }
}

} // namespace halcyon::vmm::lapic
