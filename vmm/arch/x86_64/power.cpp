// ACPI S5 power-off (see power.hpp).
#include "vmm/arch/x86_64/power.hpp"

#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/smp_clock.hpp"
#include "vmm/core/log.hpp"

namespace halcyon::x86::power {
namespace {

// PM1x_CNT: SLP_TYPx in bits 12:10, SLP_EN (write-only) in bit 13.
constexpr uint16_t kSleepTypeShift = 10;
constexpr uint16_t kSleepTypeMask = 0x7 << kSleepTypeShift;
constexpr uint16_t kSleepEnable = 1 << 13;

constexpr uint64_t kPowerOffGraceMicroseconds = 1'000'000;

// PM1x_CNT with SLP_TYP replaced; read-modify-write so the other control bits (SCI_EN above
// all) keep their values.
[[nodiscard]] uint16_t with_sleep_type(uint16_t port, uint8_t sleep_type) {
    const uint16_t current = in16(port);
    return static_cast<uint16_t>(
        (current & ~(kSleepTypeMask | kSleepEnable)) |
        ((static_cast<uint16_t>(sleep_type) << kSleepTypeShift) & kSleepTypeMask));
}

[[nodiscard]] bool is_io_port(uint32_t port) {
    return port != 0 && port <= 0xFFFF;
}

} // namespace

void acpi_power_off(const acpi::Machine& machine) {
    cli();
    log::plain_line("HALCYON POWEROFF");
    if (machine.hardware_reduced)
        log::error("power-off: hardware-reduced ACPI (sleep control register) is not supported");
    else if (!machine.s5_valid)
        log::error("power-off: the firmware's AML has no \\_S5 package");
    else if (!is_io_port(machine.pm1a_control_port))
        log::error("power-off: the FADT has no PM1a control port");
    else {
        // SLP_TYP first, then SLP_EN, each to PM1a and then PM1b: on split chipsets the
        // transition starts only once both halves carry the sleep type.
        const uint16_t port_a = static_cast<uint16_t>(machine.pm1a_control_port);
        const uint16_t port_b = static_cast<uint16_t>(machine.pm1b_control_port);
        const bool has_b = is_io_port(machine.pm1b_control_port);
        const uint16_t value_a = with_sleep_type(port_a, machine.s5_sleep_type_a);
        const uint16_t value_b = has_b ? with_sleep_type(port_b, machine.s5_sleep_type_b) : 0;
        out16(port_a, value_a);
        if (has_b)
            out16(port_b, value_b);
        out16(port_a, value_a | kSleepEnable);
        if (has_b)
            out16(port_b, value_b | kSleepEnable);
        // Power should vanish within microseconds; anything still running after the grace
        // period means the write did nothing.
        spin_microseconds(kPowerOffGraceMicroseconds);
    }
    log::error("power-off failed; halting");
    halt_forever();
}

} // namespace halcyon::x86::power
