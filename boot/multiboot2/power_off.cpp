#include "boot/multiboot2/power_off.hpp"

#include "boot/common/cpu.hpp"
#include "boot/multiboot2/legacy_pc.hpp"
#include "vmm/acpi/acpi.hpp"

namespace halcyon::multiboot2 {

namespace {

// The stage runs on page tables that map the first 4 GiB 1:1; BIOS ACPI tables live there.
class IdentityView final : public acpi::PhysicalView {
public:
    [[nodiscard]] ErrorOr<std::span<const uint8_t>> read(uint64_t physical,
                                                         uint64_t length) const override {
        constexpr uint64_t kMapped = 4ull << 30;
        if (physical == 0 || physical >= kMapped || length > kMapped - physical)
            return Error(ErrorCode::out_of_range, "ACPI table outside the first 4 GiB");
        return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(physical), length);
    }
};

// Large (a slot per possible CPU): kept off the stage's small stack.
acpi::Machine g_machine;

// PM1x_CNT: SLP_TYPx in bits 12:10, SLP_EN in bit 13 (ACPI 6.5, 4.8.2.2.1).
constexpr uint16_t kSleepTypeShift = 10;
constexpr uint16_t kSleepTypeMask = 0x7 << kSleepTypeShift;
constexpr uint16_t kSleepEnable = 1 << 13;

[[nodiscard]] uint16_t with_sleep_type(uint16_t port, uint8_t sleep_type) {
    uint16_t current = loader::cpu::in16(port);
    return static_cast<uint16_t>((current & ~(kSleepTypeMask | kSleepEnable)) |
                                 ((uint16_t{sleep_type} << kSleepTypeShift) & kSleepTypeMask));
}

[[nodiscard]] bool is_io_port(uint32_t port) {
    return port != 0 && port <= 0xFFFF;
}

} // namespace

ErrorOr<void> acpi_power_off(uint64_t rsdp_physical) {
    IdentityView view;
    TRY(acpi::discover(rsdp_physical, view, g_machine));
    if (g_machine.hardware_reduced)
        return Error(ErrorCode::not_supported, "hardware-reduced ACPI has no PM1 control block");
    if (!g_machine.s5_valid)
        return Error(ErrorCode::not_found, "the firmware's AML has no \\_S5 package");
    if (!is_io_port(g_machine.pm1a_control_port))
        return Error(ErrorCode::not_found, "the FADT has no PM1a control port");
    // SLP_TYP first, then SLP_EN, each to PM1a and then PM1b: on split chipsets the transition
    // starts only once both halves carry the sleep type.
    auto port_a = static_cast<uint16_t>(g_machine.pm1a_control_port);
    auto port_b = static_cast<uint16_t>(g_machine.pm1b_control_port);
    bool has_b = is_io_port(g_machine.pm1b_control_port);
    uint16_t value_a = with_sleep_type(port_a, g_machine.s5_sleep_type_a);
    uint16_t value_b = has_b ? with_sleep_type(port_b, g_machine.s5_sleep_type_b) : 0;
    loader::cpu::out16(port_a, value_a);
    if (has_b)
        loader::cpu::out16(port_b, value_b);
    loader::cpu::out16(port_a, value_a | kSleepEnable);
    if (has_b)
        loader::cpu::out16(port_b, value_b | kSleepEnable);
    delay_milliseconds(1000);
    return Error(ErrorCode::timeout, "the machine is still running after the S5 request");
}

} // namespace halcyon::multiboot2
