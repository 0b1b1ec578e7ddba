// What one local APIC access sends out (IPIs, level-triggered EOIs), collected while that APIC's
// lock is held and carried out by Partition::flush() after it is released: no CPU ever holds two
// APIC locks, so two vCPUs sending each other IPIs at once cannot deadlock. Internal to
// vmm/partition.
#pragma once

#include "vmm/partition/partition.hpp"

namespace halcyon::vmm {

class Partition::Outbox final : public lapic::LapicBus {
public:
    static constexpr uint32_t kCapacity = 8;

    void send_ipi(const lapic::Ipi& ipi) override {
        if (ipi_count < kCapacity)
            ipis[ipi_count++] = ipi;
        else
            ++dropped; // one APIC access sends one IPI: cannot happen, but never overflow
    }
    void end_of_interrupt(uint8_t vector) override {
        if (eoi_count < kCapacity)
            eois[eoi_count++] = vector;
        else
            ++dropped;
    }

    lapic::Ipi ipis[kCapacity];
    uint8_t eois[kCapacity];
    uint32_t ipi_count = 0;
    uint32_t eoi_count = 0;
    uint32_t dropped = 0;
};

} // namespace halcyon::vmm
