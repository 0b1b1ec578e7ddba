// Typed layouts of the ACPI structures Halcyon reads, written from the ACPI 6.5 specification
// (sections 5.2.5 RSDP, 5.2.6 system description table header, 5.2.9 FADT, 5.2.12 MADT) and the
// IA-PC HPET specification. Firmware data is unaligned and untrusted, so these are never
// overlaid on memory: load<T>() copies bytes into a local after a bounds check.
#pragma once

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::acpi {

struct [[gnu::packed]] Rsdp {
    char signature[8]; // "RSD PTR "
    uint8_t checksum;  // first 20 bytes sum to zero
    char oem_id[6];
    uint8_t revision; // 0 = ACPI 1.0 (20-byte structure), 2 = ACPI 2.0+
    uint32_t rsdt_address;
    // ACPI 2.0+
    uint32_t length;
    uint64_t xsdt_address;
    uint8_t extended_checksum; // all `length` bytes sum to zero
    uint8_t reserved[3];
};
inline constexpr size_t kRsdpV1Size = 20;
static_assert(sizeof(Rsdp) == 36);

struct [[gnu::packed]] SdtHeader {
    char signature[4];
    uint32_t length; // whole table, header included
    uint8_t revision;
    uint8_t checksum; // all `length` bytes sum to zero
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    uint32_t creator_id;
    uint32_t creator_revision;
};
static_assert(sizeof(SdtHeader) == 36);

// Generic Address Structure: where a register lives (I/O port, memory, ...).
struct [[gnu::packed]] GenericAddress {
    uint8_t space_id; // kSpaceSystemMemory, kSpaceSystemIo, ...
    uint8_t bit_width;
    uint8_t bit_offset;
    uint8_t access_size;
    uint64_t address;
};
static_assert(sizeof(GenericAddress) == 12);
inline constexpr uint8_t kSpaceSystemMemory = 0;
inline constexpr uint8_t kSpaceSystemIo = 1;

// ---- MADT ("APIC") ----

struct [[gnu::packed]] MadtFixed {
    SdtHeader header;
    uint32_t local_apic_address;
    uint32_t flags; // kMadtPcatCompat
};
static_assert(sizeof(MadtFixed) == 44);
inline constexpr uint32_t kMadtPcatCompat = 1u << 0; // dual 8259s installed

struct [[gnu::packed]] MadtEntryHeader {
    uint8_t type;
    uint8_t length; // whole entry, header included
};
static_assert(sizeof(MadtEntryHeader) == 2);

enum MadtEntryType : uint8_t {
    kMadtLocalApic = 0,
    kMadtIoApic = 1,
    kMadtInterruptOverride = 2,
    kMadtNmiSource = 3,
    kMadtLocalApicNmi = 4,
    kMadtLocalApicAddressOverride = 5,
    kMadtLocalX2Apic = 9,
    kMadtLocalX2ApicNmi = 10,
};

inline constexpr uint32_t kLocalApicEnabled = 1u << 0;
inline constexpr uint32_t kLocalApicOnlineCapable = 1u << 1;

struct [[gnu::packed]] MadtLocalApic {
    MadtEntryHeader header;
    uint8_t processor_uid;
    uint8_t apic_id;
    uint32_t flags;
};
static_assert(sizeof(MadtLocalApic) == 8);

struct [[gnu::packed]] MadtIoApic {
    MadtEntryHeader header;
    uint8_t id;
    uint8_t reserved;
    uint32_t address;
    uint32_t gsi_base;
};
static_assert(sizeof(MadtIoApic) == 12);

struct [[gnu::packed]] MadtInterruptOverride {
    MadtEntryHeader header;
    uint8_t bus; // always 0 (ISA)
    uint8_t source;
    uint32_t gsi;
    uint16_t flags;
};
static_assert(sizeof(MadtInterruptOverride) == 10);

struct [[gnu::packed]] MadtNmiSource {
    MadtEntryHeader header;
    uint16_t flags;
    uint32_t gsi;
};
static_assert(sizeof(MadtNmiSource) == 8);

struct [[gnu::packed]] MadtLocalApicNmi {
    MadtEntryHeader header;
    uint8_t processor_uid;
    uint16_t flags;
    uint8_t lint;
};
static_assert(sizeof(MadtLocalApicNmi) == 6);

struct [[gnu::packed]] MadtLocalApicAddressOverride {
    MadtEntryHeader header;
    uint16_t reserved;
    uint64_t address;
};
static_assert(sizeof(MadtLocalApicAddressOverride) == 12);

struct [[gnu::packed]] MadtLocalX2Apic {
    MadtEntryHeader header;
    uint16_t reserved;
    uint32_t x2apic_id;
    uint32_t flags;
    uint32_t processor_uid;
};
static_assert(sizeof(MadtLocalX2Apic) == 16);

struct [[gnu::packed]] MadtLocalX2ApicNmi {
    MadtEntryHeader header;
    uint16_t flags;
    uint32_t processor_uid;
    uint8_t lint;
    uint8_t reserved[3];
};
static_assert(sizeof(MadtLocalX2ApicNmi) == 12);

// ---- FADT ("FACP") ----
// The full ACPI 6.x layout. Older firmware ships shorter tables (ACPI 1.0: 116 bytes); the parser
// copies only the bytes the table has into a zeroed Fadt, so absent fields read as zero.

struct [[gnu::packed]] Fadt {
    SdtHeader header;
    uint32_t firmware_ctrl;
    uint32_t dsdt;
    uint8_t reserved0;
    uint8_t preferred_pm_profile;
    uint16_t sci_interrupt;
    uint32_t smi_command;
    uint8_t acpi_enable;
    uint8_t acpi_disable;
    uint8_t s4bios_request;
    uint8_t pstate_control;
    uint32_t pm1a_event_block;
    uint32_t pm1b_event_block;
    uint32_t pm1a_control_block;
    uint32_t pm1b_control_block;
    uint32_t pm2_control_block;
    uint32_t pm_timer_block;
    uint32_t gpe0_block;
    uint32_t gpe1_block;
    uint8_t pm1_event_length;
    uint8_t pm1_control_length;
    uint8_t pm2_control_length;
    uint8_t pm_timer_length;
    uint8_t gpe0_block_length;
    uint8_t gpe1_block_length;
    uint8_t gpe1_base;
    uint8_t cstate_control;
    uint16_t c2_latency;
    uint16_t c3_latency;
    uint16_t flush_size;
    uint16_t flush_stride;
    uint8_t duty_offset;
    uint8_t duty_width;
    uint8_t day_alarm;
    uint8_t month_alarm;
    uint8_t century;
    uint16_t iapc_boot_arch;
    uint8_t reserved1;
    uint32_t flags; // kFadt* bits; last field of the ACPI 1.0 table (offset 112)
    GenericAddress reset_register;
    uint8_t reset_value;
    uint16_t arm_boot_arch;
    uint8_t minor_version;
    uint64_t x_firmware_ctrl;
    uint64_t x_dsdt;
    GenericAddress x_pm1a_event_block;
    GenericAddress x_pm1b_event_block;
    GenericAddress x_pm1a_control_block;
    GenericAddress x_pm1b_control_block;
    GenericAddress x_pm2_control_block;
    GenericAddress x_pm_timer_block;
    GenericAddress x_gpe0_block;
    GenericAddress x_gpe1_block;
    GenericAddress sleep_control_register;
    GenericAddress sleep_status_register;
    uint64_t hypervisor_vendor_id;
};
static_assert(sizeof(Fadt) == 276);
static_assert(offsetof(Fadt, flags) == 112);
static_assert(offsetof(Fadt, reset_register) == 116);
static_assert(offsetof(Fadt, x_dsdt) == 140);
static_assert(offsetof(Fadt, x_pm1a_control_block) == 172);
static_assert(offsetof(Fadt, x_pm_timer_block) == 208);
inline constexpr size_t kFadtV1Size = 116;

inline constexpr uint32_t kFadtTimerValueExtended = 1u << 8; // PM timer is 32 bits, not 24
inline constexpr uint32_t kFadtResetRegisterSupported = 1u << 10;
inline constexpr uint32_t kFadtHardwareReduced = 1u << 20;

// ---- HPET ----

struct [[gnu::packed]] HpetTable {
    SdtHeader header;
    uint32_t event_timer_block_id;
    GenericAddress base_address;
    uint8_t hpet_number;
    uint16_t minimum_tick;
    uint8_t page_protection;
};
static_assert(sizeof(HpetTable) == 56);

// Copies a T out of `bytes` at `offset`; false (and `out` untouched) when it would not fit.
template <typename T>
[[nodiscard]] bool load(std::span<const uint8_t> bytes, size_t offset, T& out) {
    if (offset > bytes.size() || bytes.size() - offset < sizeof(T))
        return false;
    __builtin_memcpy(&out, bytes.data() + offset, sizeof(T));
    return true;
}

[[nodiscard]] inline uint8_t checksum(std::span<const uint8_t> bytes) {
    uint8_t sum = 0;
    for (uint8_t byte : bytes)
        sum = static_cast<uint8_t>(sum + byte);
    return sum;
}

[[nodiscard]] inline bool signature_is(const char (&signature)[4], const char* expected) {
    return signature[0] == expected[0] && signature[1] == expected[1] &&
           signature[2] == expected[2] && signature[3] == expected[3];
}

} // namespace halcyon::acpi
