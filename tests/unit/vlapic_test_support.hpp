// Shared helpers of the virtual LAPIC unit tests (tests/unit/vlapic_*_test.cpp).
#pragma once

#include "vmm/lapic/registers.hpp"
#include "vmm/lapic/vlapic.hpp"

#include <gtest/gtest.h>

#include <span>
#include <stdint.h>
#include <vector>

namespace halcyon::vmm::lapic::testing {

// 2 GHz TSC, 100 MHz timer: 20 TSC ticks per timer clock.
inline constexpr uint64_t kTscHz = 2'000'000'000;
inline constexpr uint64_t kTicksPerClock = kTscHz / VirtualLapic::kDefaultTimerHz;

// Records what a LAPIC sends out.
class RecordingBus final : public LapicBus {
public:
    void send_ipi(const Ipi& ipi) override { ipis.push_back(ipi); }
    void end_of_interrupt(uint8_t vector) override { eois.push_back(vector); }

    std::vector<Ipi> ipis;
    std::vector<uint8_t> eois;
};

// A whole partition's worth of LAPICs: routes and delivers what they send, as the partition does.
class RoutingBus final : public LapicBus {
public:
    explicit RoutingBus(std::span<VirtualLapic* const> lapics) : lapics_(lapics) {}

    void send_ipi(const Ipi& ipi) override {
        std::vector<VirtualLapic*> targets(lapics_.size());
        const size_t count = VirtualLapic::route(ipi, lapics_, targets);
        for (size_t index = 0; index < count; ++index) {
            targets[index]->deliver(ipi);
        }
    }
    void end_of_interrupt(uint8_t vector) override { eois.push_back(vector); }

    std::vector<uint8_t> eois;

private:
    std::span<VirtualLapic* const> lapics_;
};

inline void software_enable(VirtualLapic& lapic, uint64_t now = 0) {
    RecordingBus bus;
    lapic.mmio_write(offset::svr, svr::software_enable | 0xFF, now, bus);
}

// xAPIC -> x2APIC through IA32_APIC_BASE, as a guest does.
inline void enter_x2apic(VirtualLapic& lapic, uint64_t now = 0) {
    RecordingBus bus;
    const uint64_t value = lapic.apic_base() | base::x2apic_enable;
    ASSERT_TRUE(lapic.write_msr(msr::apic_base, value, now, bus));
    ASSERT_EQ(lapic.mode(), VirtualLapic::Mode::x2apic);
}

inline uint32_t x2apic_msr(uint32_t mmio_offset) {
    return msr::x2apic_first + mmio_offset / 16;
}

// Reads the ESR the way software must: write, then read.
inline uint32_t latch_esr(VirtualLapic& lapic, uint64_t now = 0) {
    RecordingBus bus;
    lapic.mmio_write(offset::esr, 0, now, bus);
    return lapic.mmio_read(offset::esr, now);
}

} // namespace halcyon::vmm::lapic::testing
