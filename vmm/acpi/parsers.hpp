// The per-table parsers behind discover(). Each takes one whole table whose header, length and
// checksum discover() has already validated, and bounds-checks everything inside it.
#pragma once

#include "vmm/acpi/acpi.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::acpi {

// MADT: CPUs, IO APICs, interrupt source overrides, the local APIC address, PCAT_COMPAT.
[[nodiscard]] ErrorOr<void> parse_madt(std::span<const uint8_t> table, Machine& out);

// FADT: DSDT address, PM1 control / PM timer ports, SCI, reset register, hardware-reduced flag.
[[nodiscard]] ErrorOr<void> parse_fadt(std::span<const uint8_t> table, Machine& out);

struct SleepType {
    uint8_t a; // SLP_TYPa, written to PM1a_CNT
    uint8_t b; // SLP_TYPb, written to PM1b_CNT
};

// Scans AML (a DSDT or SSDT body, header excluded) for the definition `Name (\_S5, Package ...)`
// and returns its first two elements; not_found when there is no well-formed one.
[[nodiscard]] ErrorOr<SleepType> find_s5_sleep_type(std::span<const uint8_t> aml);

} // namespace halcyon::acpi
