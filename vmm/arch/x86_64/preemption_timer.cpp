#include "vmm/arch/x86_64/preemption_timer.hpp"

#include "boot/handoff/handoff.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/interrupts.hpp"
#include "vmm/arch/x86_64/lapic.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/arch/x86_64/tsc.hpp"

namespace halcyon::x86::preemption_timer {
namespace {

// Timer registers (Intel SDM vol. 3, 11.5.4; AMD APM vol. 2, 16.4.1), as xAPIC MMIO offsets;
// in x2APIC mode MSR 0x800 + offset / 16.
constexpr uint32_t kLvtTimer = 0x320;
constexpr uint32_t kInitialCount = 0x380;
constexpr uint32_t kCurrentCount = 0x390;
constexpr uint32_t kDivideConfiguration = 0x3E0;

constexpr uint32_t kLvtMasked = 1u << 16;
constexpr uint32_t kLvtPeriodic = 1u << 17;
constexpr uint32_t kDivideBy16 = 0x3;
// Long enough that the timer's rate is known to well under 1% (a one-shot deadline computed from
// a rate that is too high would fire late, and guests notice late timers).
constexpr uint64_t kCalibrationMicroseconds = 10'000;

uint64_t g_ticks_per_millisecond[kMaxCpus];
uint64_t g_interrupts[kMaxCpus];

uint32_t read(uint32_t offset) {
    if (lapic::mode() == lapic::Mode::x2apic)
        return static_cast<uint32_t>(rdmsr(0x800 + offset / 16));
    return *reinterpret_cast<volatile uint32_t*>(handoff::kDirectMapBase + lapic::xapic_base() +
                                                 offset);
}

void write(uint32_t offset, uint32_t value) {
    if (lapic::mode() == lapic::Mode::x2apic)
        wrmsr(0x800 + offset / 16, value);
    else
        *reinterpret_cast<volatile uint32_t*>(handoff::kDirectMapBase + lapic::xapic_base() +
                                              offset) = value;
}

// While vCPUs run, the core takes host interrupts (INTR exits). The firmware may have left the
// legacy 8259 PICs unmasked, and their interrupts (ExtINT through LINT0) arrive on vectors the
// core never chose, possibly overlapping exception vectors: mask every line of both.
void mask_legacy_pic() {
    out8(0x21, 0xFF); // master PIC data port: interrupt mask
    out8(0xA1, 0xFF); // slave PIC
}

void on_tick(InterruptFrame&) {
    ++g_interrupts[this_cpu().index];
    lapic::end_of_interrupt();
}

void on_kick(InterruptFrame&) {
    lapic::end_of_interrupt(); // the interrupt (and the exit it caused) was the whole point
}

// The handlers are global (one IDT for every CPU). They must be in place before the first kick
// or tick reaches any CPU, including one that never armed its own timer: kick() installs them
// on the sender's side before the IPI leaves.
void install_handlers() {
    register_interrupt_handler(kVector, on_tick);
    register_interrupt_handler(kKickVector, on_kick);
}

// The timer's rate is the bus or core crystal clock, which nothing reports reliably: count it
// against the (already calibrated) TSC for a millisecond.
ErrorOr<uint64_t> calibrate() {
    if (tsc::frequency_hz() == 0)
        return Error(ErrorCode::not_supported, "the TSC is not calibrated");
    write(kDivideConfiguration, kDivideBy16);
    write(kLvtTimer, kLvtMasked | kVector);
    write(kInitialCount, 0xFFFF'FFFF);
    tsc::delay_microseconds(kCalibrationMicroseconds);
    const uint32_t elapsed = 0xFFFF'FFFF - read(kCurrentCount);
    write(kInitialCount, 0);
    if (elapsed == 0)
        return Error(ErrorCode::not_supported, "the local APIC timer does not count");
    return static_cast<uint64_t>(elapsed) * 1000 / kCalibrationMicroseconds;
}

} // namespace

ErrorOr<void> start(uint32_t period_microseconds) {
    if (lapic::mode() == lapic::Mode::uninitialized)
        return Error(ErrorCode::not_supported, "no local APIC");
    uint64_t& rate = g_ticks_per_millisecond[this_cpu().index];
    if (rate == 0)
        rate = TRY(calibrate());
    mask_legacy_pic();
    install_handlers();
    uint64_t count = rate * period_microseconds / 1000;
    if (count == 0)
        count = 1;
    if (count > 0xFFFF'FFFF)
        count = 0xFFFF'FFFF;
    write(kDivideConfiguration, kDivideBy16);
    write(kLvtTimer, kLvtPeriodic | kVector);
    write(kInitialCount, static_cast<uint32_t>(count));
    return {};
}

ErrorOr<void> arm(uint64_t deadline) {
    if (lapic::mode() == lapic::Mode::uninitialized)
        return Error(ErrorCode::not_supported, "no local APIC");
    uint64_t& rate = g_ticks_per_millisecond[this_cpu().index];
    if (rate == 0) {
        rate = TRY(calibrate());
        mask_legacy_pic();
        install_handlers();
    }
    const uint64_t tsc_per_millisecond = tsc::frequency_hz() / 1000;
    const uint64_t now = rdtsc();
    uint64_t delta = deadline > now ? deadline - now : 0;
    if (delta > tsc_per_millisecond * 1000)
        delta = tsc_per_millisecond * 1000;
    uint64_t count = delta * rate / tsc_per_millisecond;
    // Aim a little early: the rate is measured, not exact, and a caller woken early simply arms
    // again for the rest, while one woken late has already missed its deadline.
    count -= count / 32;
    if (count == 0)
        count = 1;
    if (count > 0xFFFF'FFFF)
        count = 0xFFFF'FFFF;
    write(kDivideConfiguration, kDivideBy16);
    write(kLvtTimer, kVector); // one-shot
    write(kInitialCount, static_cast<uint32_t>(count));
    return {};
}

ErrorOr<void> kick(uint32_t cpu_index) {
    const PerCpu* cpu = cpu_by_index(cpu_index);
    if (cpu == nullptr)
        return Error(ErrorCode::not_found, "no such CPU");
    install_handlers();
    return lapic::send_fixed(cpu->apic_id, kKickVector);
}

void stop() {
    write(kLvtTimer, kLvtMasked | kVector);
    write(kInitialCount, 0);
}

uint64_t ticks() {
    return g_interrupts[this_cpu().index];
}

} // namespace halcyon::x86::preemption_timer
