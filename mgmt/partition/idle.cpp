#include "mgmt/partition/idle.hpp"

#include "mgmt/net/platform.hpp"
#include "mgmt/partition/runtime/cpu_tables.hpp"

namespace halcyon::mgmt::partition {
namespace {

constexpr uint64_t kApicBase = 0xFEE0'0000;
constexpr uint32_t kApicVersion = 0x030;
constexpr uint32_t kSpuriousVectorRegister = 0x0F0;
constexpr uint32_t kLvtTimer = 0x320;
constexpr uint32_t kTimerInitialCount = 0x380;
constexpr uint32_t kTimerDivide = 0x3E0;
constexpr uint32_t kApicSoftwareEnable = 1u << 8;
constexpr uint32_t kDivideBy1 = 0xB;
constexpr uint64_t kTimerHz = 100'000'000; // the fixed guest platform's LAPIC timer clock
constexpr uint64_t kTimerTicksPerUs = kTimerHz / 1'000'000;

volatile uint32_t& apic(uint32_t reg) {
    return *reinterpret_cast<volatile uint32_t*>(kApicBase + reg);
}

// The 8259s must stay silent once interrupts are enabled: their power-on vectors (8-15) are the
// exception vectors. Halcyon's model never delivers, but a partition must not rely on that.
void mask_legacy_pics() {
    asm volatile("outb %0, $0x21; outb %0, $0xA1" : : "a"(static_cast<uint8_t>(0xFF)));
}

} // namespace

bool Idle::init(uint64_t tsc_hz) {
    mask_legacy_pics();
    tsc_per_us_ = tsc_hz / 1'000'000 + 1;
    const uint32_t version = apic(kApicVersion);
    if (version == 0 || version == 0xFFFF'FFFF)
        return false;
    apic(kSpuriousVectorRegister) = kApicSoftwareEnable | kSpuriousVector;
    apic(kTimerDivide) = kDivideBy1;
    apic(kLvtTimer) = kTimerVector; // one-shot, not masked
    timer_ = true;
    return true;
}

void Idle::until(uint64_t deadline_tsc) {
    const uint64_t now = net::read_tsc();
    if (now >= deadline_tsc)
        return;
    if (!timer_) {
        while (net::read_tsc() < deadline_tsc)
            asm volatile("pause");
        return;
    }
    const uint64_t us = (deadline_tsc - now) / tsc_per_us_ + 1;
    const uint64_t ticks = us * kTimerTicksPerUs;
    apic(kTimerInitialCount) = ticks > 0xFFFF'FFFF ? 0xFFFF'FFFF : static_cast<uint32_t>(ticks);
    // STI's one-instruction shadow covers the HLT: a timer that already expired is delivered
    // with the HLT in progress and ends it, so no wake-up is lost.
    asm volatile("sti; hlt; cli" ::: "memory");
    apic(kTimerInitialCount) = 0; // woken early by something else: stop the timer
}

} // namespace halcyon::mgmt::partition
