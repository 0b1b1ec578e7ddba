// The guest's ACPI tables (ACPI 6.5), written by the loader in place of firmware. They describe
// the fixed Halcyon guest platform (docs: "Fixed guest platform"): one xAPIC per vCPU, one
// IOAPIC, the PM1a/PM-timer/reset ports of the fixed hardware, \_S5 for power-off and, when
// the VM has one, the VMBus device (\_SB.VMBS) through which Linux's hv_vmbus finds the bus. The
// layouts are vmm/acpi/tables.hpp's (the same structures the core's own ACPI parser reads),
// so a host test can run that parser over what is written here.
//
// Region [0xE0000, 0x100000), reserved in the e820 map (and where a kernel that is given no
// RSDP address scans for one):
//   0xE0000 RSDP (revision 2, XSDT only)   0xE0040 XSDT -> FADT, MADT
//   0xE00C0 FACS (64-byte aligned)         0xE0100 FADT (revision 6) -> FACS, DSDT
//   0xE0240 DSDT (\_S5, \_SB.VMBS)         0xE0300 MADT (grows with the vCPU count)
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/worker/linux/guest_memory.hpp"

#include <stdint.h>

namespace halcyon::worker::linux_boot {

inline constexpr uint64_t kAcpiRegionStart = 0xE'0000;
inline constexpr uint64_t kAcpiRegionEnd = 0x10'0000;

// The platform the tables describe (the guest device models implement the same numbers).
inline constexpr uint32_t kLocalApicAddress = 0xFEE0'0000;
inline constexpr uint32_t kIoApicAddress = 0xFEC0'0000;
inline constexpr uint16_t kPm1aEventPort = 0x600;   // 4 bytes: PM1_STS, PM1_EN
inline constexpr uint16_t kPm1aControlPort = 0x604; // 2 bytes: PM1_CNT
inline constexpr uint16_t kPmTimerPort = 0x608;     // 4 bytes, 32-bit counter at 3.579545 MHz
inline constexpr uint16_t kSciInterrupt = 9;
inline constexpr uint16_t kResetPort = 0xCF9;
inline constexpr uint8_t kResetValue = 0x06;
inline constexpr uint8_t kS5SleepType = 5; // \_S5 = { 5, 5, 0, 0 }: SLP_TYP written with SLP_EN
// MADT interrupt source overrides (MPS INTI flags: polarity bits 0-1, trigger mode bits 2-3).
inline constexpr uint16_t kTimerOverrideFlags = 0x0000; // IRQ0 -> GSI 2, conforms (edge, high)
inline constexpr uint16_t kSciOverrideFlags = 0x000F;   // IRQ9 -> GSI 9, level, active low

// xAPIC IDs are 8 bits and 0xFF is the broadcast ID; the IOAPIC takes ID = vCPU count.
inline constexpr uint32_t kMaxAcpiVcpus = 254;

// What the tables describe beyond the fixed platform.
struct AcpiPlatform {
    uint32_t vcpu_count = 1;
    // The VMBus ACPI device (Hyper-V's synthetic bus). Only for VMs whose VMBus host runs: Linux's
    // hv_vmbus, finding it, waits for the host's answer to its first message without a timeout.
    bool vmbus = false;
};

// The VMBus device as Linux 6.1 (drivers/hv/vmbus_drv.c) binds it. The ACPI IDs it matches are
// "VMBUS" and "VMBus"; Hyper-V's own firmware and Windows' wvmbus.inf use "VMBus" (ACPICA
// upper-cases _HID strings, so Linux sees "VMBUS"). Its add() must be able to walk the device's
// _CRS (a missing _CRS fails the probe); it looks there and in the ancestors' _CRS for MMIO
// windows, which only virtual PCI and the synthetic framebuffer need. VMBus itself needs no
// resources on x86 - the host signals through the SynIC, not an interrupt line - so _CRS is empty.
inline constexpr const char* kVmbusDeviceName = "VMBS"; // \_SB.VMBS
inline constexpr const char* kVmbusHardwareId = "VMBus";
inline constexpr const char* kVmbusDosDeviceName = "VMBUS";
inline constexpr uint32_t kVmbusDeviceStatus = 0x0F; // present, enabled, shown, functioning

struct AcpiTables {
    uint64_t rsdp, xsdt, facs, fadt, dsdt, madt;
    uint64_t end; // first byte after the last table
};

// Writes every table for `platform.vcpu_count` vCPUs (processor UID = APIC ID = index, vCPU 0
// the BSP, IOAPIC ID = vcpu_count) into [kAcpiRegionStart, kAcpiRegionEnd) and returns where
// each went.
[[nodiscard]] ErrorOr<AcpiTables> write_acpi_tables(GuestMemoryWriter& memory,
                                                    const AcpiPlatform& platform);
// The tables of a VM without VMBus.
[[nodiscard]] inline ErrorOr<AcpiTables> write_acpi_tables(GuestMemoryWriter& memory,
                                                           uint32_t vcpu_count) {
    return write_acpi_tables(memory, AcpiPlatform{vcpu_count, false});
}

} // namespace halcyon::worker::linux_boot
