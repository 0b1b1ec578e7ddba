#include "vmm/arch/x86_64/tsc.hpp"

#include "vmm/arch/x86_64/cpu.hpp"

namespace halcyon::x86::tsc {
namespace {

uint64_t g_entry_tsc = 0;
uint64_t g_frequency_hz = 0;
CalibrationSource g_source = CalibrationSource::none;

// 8254 PIT: input clock, channel 2 data port, mode/command port, and the PC's "port B" (0x61)
// whose bit 0 gates channel 2 and bit 5 reads its output.
constexpr uint64_t kPitHz = 1'193'182;
constexpr uint16_t kPitChannel2 = 0x42;
constexpr uint16_t kPitCommand = 0x43;
constexpr uint16_t kPortB = 0x61;
constexpr uint8_t kPortBGate2 = 0x01;
constexpr uint8_t kPortBSpeaker = 0x02;
constexpr uint8_t kPortBOut2 = 0x20;
// Channel 2, lobyte/hibyte access, mode 0 (interrupt on terminal count: OUT goes high at 0).
constexpr uint8_t kPitChannel2Mode0 = 0xB0;
constexpr uint64_t kCalibrationMilliseconds = 20;
// Polls of port B before deciding the PIT is absent: a port read costs ~1 us on hardware, so
// this is ~100x the expected 20 ms.
constexpr uint32_t kPitPollLimit = 2'000'000;

constexpr uint64_t kPmTimerHz = 3'579'545;

ErrorOr<uint64_t> frequency_from_cpuid(CalibrationSource& source) {
    const uint32_t max_leaf = cpuid(0).eax;
    if (max_leaf >= 0x15) {
        // TSC = crystal (ecx Hz) * ebx / eax, when all three are reported.
        const CpuidResult leaf = cpuid(0x15);
        if (leaf.eax != 0 && leaf.ebx != 0 && leaf.ecx != 0) {
            source = CalibrationSource::cpuid_15h;
            return static_cast<uint64_t>(leaf.ecx) * leaf.ebx / leaf.eax;
        }
    }
    if (max_leaf >= 0x16) {
        // Processor base frequency in MHz: the TSC's rate on CPUs that report it here.
        const uint32_t base_mhz = cpuid(0x16).eax & 0xFFFF;
        if (base_mhz != 0) {
            source = CalibrationSource::cpuid_16h;
            return static_cast<uint64_t>(base_mhz) * 1'000'000;
        }
    }
    return Error(ErrorCode::not_supported, "CPUID does not report the TSC frequency");
}

ErrorOr<uint64_t> frequency_from_pit() {
    const auto count = static_cast<uint16_t>(kPitHz * kCalibrationMilliseconds / 1000);
    const uint8_t saved_port_b = in8(kPortB);

    // Gate low (counter holds) and speaker off while programming.
    out8(kPortB, saved_port_b & ~(kPortBGate2 | kPortBSpeaker));
    out8(kPitCommand, kPitChannel2Mode0);
    out8(kPitChannel2, static_cast<uint8_t>(count));
    out8(kPitChannel2, static_cast<uint8_t>(count >> 8));

    const uint64_t start = rdtsc();
    out8(kPortB, (saved_port_b & ~kPortBSpeaker) | kPortBGate2);
    uint32_t polls = 0;
    while ((in8(kPortB) & kPortBOut2) == 0) {
        if (++polls == kPitPollLimit) {
            out8(kPortB, saved_port_b);
            return Error(ErrorCode::timeout, "PIT channel 2 never reached terminal count");
        }
    }
    const uint64_t end = rdtsc();
    out8(kPortB, saved_port_b);
    if (end <= start)
        return Error(ErrorCode::corrupt, "TSC did not advance during PIT calibration");
    return (end - start) * kPitHz / count;
}

} // namespace

ErrorOr<void> calibrate(uint64_t entry) {
    g_entry_tsc = entry;
    CalibrationSource source = CalibrationSource::none;
    auto from_cpuid = frequency_from_cpuid(source);
    if (!from_cpuid.is_error()) {
        g_frequency_hz = from_cpuid.value();
        g_source = source;
        return {};
    }
    const uint64_t hz = TRY(frequency_from_pit());
    g_frequency_hz = hz;
    g_source = CalibrationSource::pit;
    return {};
}

ErrorOr<void> calibrate_with_pm_timer(uint16_t port, bool timer_is_32bit) {
    if (port == 0)
        return Error(ErrorCode::not_supported, "no ACPI PM timer");
    const uint32_t mask = timer_is_32bit ? 0xFFFF'FFFFu : 0x00FF'FFFFu;
    const uint32_t target = static_cast<uint32_t>(kPmTimerHz * kCalibrationMilliseconds / 1000);

    const uint32_t pm_start = in32(port) & mask;
    const uint64_t tsc_start = rdtsc();
    uint32_t elapsed = 0;
    uint32_t polls = 0;
    while (elapsed < target) {
        // Unsigned subtraction under the mask handles one wrap of the counter.
        elapsed = ((in32(port) & mask) - pm_start) & mask;
        if (++polls == kPitPollLimit)
            return Error(ErrorCode::timeout, "ACPI PM timer does not count");
    }
    const uint64_t tsc_end = rdtsc();
    g_frequency_hz = (tsc_end - tsc_start) * kPmTimerHz / elapsed;
    g_source = CalibrationSource::acpi_pm_timer;
    return {};
}

uint64_t frequency_hz() {
    return g_frequency_hz;
}
CalibrationSource source() {
    return g_source;
}
uint64_t entry_tsc() {
    return g_entry_tsc;
}

const char* source_name(CalibrationSource source) {
    switch (source) {
    case CalibrationSource::none:
        return "uncalibrated";
    case CalibrationSource::cpuid_15h:
        return "CPUID 0x15";
    case CalibrationSource::cpuid_16h:
        return "CPUID 0x16";
    case CalibrationSource::pit:
        return "PIT";
    case CalibrationSource::acpi_pm_timer:
        return "ACPI PM timer";
    }
    return "?";
}

uint64_t ticks_to_microseconds(uint64_t ticks) {
    if (g_frequency_hz == 0)
        return 0;
    // Split into whole seconds and a remainder so nothing overflows 64 bits (and no 128-bit
    // division helper from a compiler runtime is needed).
    const uint64_t seconds = ticks / g_frequency_hz;
    const uint64_t remainder = ticks % g_frequency_hz;
    return seconds * 1'000'000 + remainder * 1'000'000 / g_frequency_hz;
}

Elapsed since_entry() {
    if (g_frequency_hz == 0)
        return {0, 0};
    const uint64_t ticks = rdtsc() - g_entry_tsc;
    const uint64_t seconds = ticks / g_frequency_hz;
    const uint64_t remainder = ticks % g_frequency_hz;
    return {seconds, static_cast<uint32_t>(remainder * 1'000'000 / g_frequency_hz)};
}

void delay_microseconds(uint64_t microseconds) {
    if (g_frequency_hz == 0)
        return;
    const uint64_t ticks = microseconds * (g_frequency_hz / 1'000'000 + 1);
    const uint64_t start = rdtsc();
    while (rdtsc() - start < ticks)
        pause();
}

} // namespace halcyon::x86::tsc
