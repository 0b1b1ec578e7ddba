// FADT reader. The table grew over ACPI revisions (116 bytes in 1.0, 244 in 2.0, 276 in 6.x), so
// only the bytes the firmware actually supplied are copied into a zeroed Fadt: fields beyond the
// table's length read as zero and the 64-bit "X_" fields then fall back to their 32-bit forms.
#include "vmm/acpi/parsers.hpp"
#include "vmm/acpi/tables.hpp"

namespace halcyon::acpi {
namespace {

// A PM register block as an I/O port: the X_ form when it names a non-zero I/O port, else the
// legacy 32-bit port field. (Memory-mapped PM blocks would need another access path; none of
// the machines Halcyon targets use them, so they read as absent.)
uint32_t port_of(const GenericAddress& extended, uint32_t legacy) {
    if (extended.space_id == kSpaceSystemIo && extended.address != 0 && extended.address <= 0xFFFF)
        return static_cast<uint32_t>(extended.address);
    return legacy;
}

} // namespace

ErrorOr<void> parse_fadt(std::span<const uint8_t> table, Machine& out) {
    if (table.size() < kFadtV1Size)
        return Error(ErrorCode::corrupt, "FADT shorter than the ACPI 1.0 layout");

    Fadt fadt;
    __builtin_memset(&fadt, 0, sizeof(fadt));
    size_t supplied = table.size() < sizeof(Fadt) ? table.size() : sizeof(Fadt);
    __builtin_memcpy(&fadt, table.data(), supplied);

    out.dsdt_address = fadt.x_dsdt != 0 ? fadt.x_dsdt : fadt.dsdt;
    out.pm1a_control_port = port_of(fadt.x_pm1a_control_block, fadt.pm1a_control_block);
    out.pm1b_control_port = port_of(fadt.x_pm1b_control_block, fadt.pm1b_control_block);
    out.pm_timer_port = port_of(fadt.x_pm_timer_block, fadt.pm_timer_block);
    out.pm_timer_32bit = (fadt.flags & kFadtTimerValueExtended) != 0;
    out.sci_interrupt = fadt.sci_interrupt;
    out.hardware_reduced = (fadt.flags & kFadtHardwareReduced) != 0;

    // The reset register exists from ACPI 2.0 (byte 129 onwards); the flag alone is not enough
    // when the table is too short to hold the register.
    constexpr size_t kResetEnd = offsetof(Fadt, reset_value) + sizeof(Fadt::reset_value);
    out.reset_register_valid = (fadt.flags & kFadtResetRegisterSupported) != 0 &&
                               supplied >= kResetEnd && fadt.reset_register.address != 0;
    if (out.reset_register_valid) {
        out.reset_register_space = fadt.reset_register.space_id;
        out.reset_register_address = fadt.reset_register.address;
        out.reset_value = fadt.reset_value;
    }
    return {};
}

} // namespace halcyon::acpi
