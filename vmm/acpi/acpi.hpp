// ACPI discovery: from the RSDP the loader found, walk the XSDT (or RSDT) and pull out what the
// core needs to bring the machine up and to power it off: CPUs and interrupt controllers (MADT),
// fixed hardware ports (FADT), the \_S5 sleep type (DSDT/SSDT AML) and the HPET base.
//
// Pure code over an abstract view of physical memory, so the same parser runs in the core (over
// the direct map) and in host unit tests (over synthetic tables). Firmware tables are untrusted
// input: every checksum, length and sub-structure is validated before it is read.
#pragma once

#include "lib/base/error_or.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::acpi {

inline constexpr size_t kMaxCpus = 256, kMaxIoApics = 16, kMaxOverrides = 48;

// How the parser reads physical memory: the core implements it over its direct map; tests over a
// buffer. Returns exactly `length` bytes starting at `physical`, or an error when that range is
// not readable.
class PhysicalView {
public:
    [[nodiscard]] virtual ErrorOr<std::span<const uint8_t>> read(uint64_t physical,
                                                                 uint64_t length) const = 0;

protected:
    ~PhysicalView() = default;
};

struct Cpu {
    uint32_t apic_id;
    uint32_t processor_uid;
    bool enabled;        // usable now
    bool online_capable; // disabled now, but may be hot-added (ACPI 6.3+)
    bool x2apic;         // described by an x2APIC entry (APIC ID may exceed 255)
};

struct IoApic {
    uint8_t id;
    uint32_t address;
    uint32_t gsi_base;
};

struct InterruptOverride {
    uint8_t source_irq; // ISA IRQ
    uint32_t gsi;
    uint16_t flags; // MPS INTI flags: polarity bits 0-1, trigger mode bits 2-3
};

struct Machine {
    uint8_t revision;  // RSDP revision (0 = ACPI 1.0, 2 = ACPI 2.0+)
    char oem_id[7];    // NUL terminated
    bool root_is_xsdt; // tables were found through the XSDT (else the RSDT)

    // MADT
    uint64_t local_apic_address;
    bool has_legacy_pics; // PCAT_COMPAT: 8259s present and must be masked
    uint32_t cpu_count;
    Cpu cpus[kMaxCpus];
    uint32_t cpus_dropped; // processors beyond kMaxCpus, left out of `cpus`
    uint32_t io_apic_count;
    IoApic io_apics[kMaxIoApics];
    uint32_t override_count;
    InterruptOverride overrides[kMaxOverrides];

    // FADT
    uint64_t dsdt_address;
    uint32_t pm1a_control_port, pm1b_control_port; // 0 when absent
    uint32_t pm_timer_port;                        // 0 when absent
    bool pm_timer_32bit;
    uint16_t sci_interrupt;
    bool reset_register_valid;
    uint8_t reset_register_space; // generic address space id (0 = memory, 1 = I/O)
    uint64_t reset_register_address;
    uint8_t reset_value;
    bool hardware_reduced;

    // \_S5 from the DSDT (and SSDTs), for power-off
    bool s5_valid;
    uint8_t s5_sleep_type_a, s5_sleep_type_b;

    uint64_t hpet_address; // 0 if no HPET table

    // When discover() fails: the signature of the table at fault ("RSDP", "XSDT", "APIC", ...),
    // so the core can say which one; empty on success.
    char problem_table[5];
};

// Fills `out` (fully overwritten) from the tables rooted at `rsdp_physical`. Fails when the RSDP,
// the root table, the MADT or the FADT is missing or corrupt (bad signature, checksum or length,
// a malformed entry). The optional tables (DSDT/SSDT for \_S5, HPET) are treated as absent when
// missing or corrupt: s5_valid = false, hpet_address = 0.
[[nodiscard]] ErrorOr<void> discover(uint64_t rsdp_physical, const PhysicalView& memory,
                                     Machine& out);

} // namespace halcyon::acpi
