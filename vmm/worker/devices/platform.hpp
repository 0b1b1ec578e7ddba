// The fixed numbers of Halcyon's guest platform that the device models implement (the same
// numbers the ACPI tables describe; see the "Fixed guest platform" section of the docs).
#pragma once

#include <stdint.h>

namespace halcyon::worker::platform {

// IOAPIC: 24 pins at GSI 0, one 4 KiB MMIO page.
inline constexpr uint64_t kIoApicBase = 0xFEC00000;
inline constexpr uint64_t kIoApicSize = 0x1000;
inline constexpr unsigned kIoApicPins = 24;

// Where the ISA interrupts land on the IOAPIC (MADT interrupt source overrides).
inline constexpr unsigned kPitGsi = 2;  // ISA IRQ0, edge, active high
inline constexpr unsigned kCom1Gsi = 4; // ISA IRQ4, edge, active high
inline constexpr unsigned kSciGsi = 9;  // ISA IRQ9, level, active low (override flags 0x000F)
// The wires that are electrically active low (bit n = GSI n).
inline constexpr uint32_t kActiveLowGsis = 1u << kSciGsi;

// Legacy I/O ports.
inline constexpr uint16_t kCom1Base = 0x3F8;
inline constexpr uint16_t kPitBase = 0x40;        // 0x40-0x43
inline constexpr uint16_t kSystemControlB = 0x61; // PIT channel 2 gate and OUT
inline constexpr uint16_t kPicMasterBase = 0x20;  // 0x20-0x21
inline constexpr uint16_t kPicSlaveBase = 0xA0;   // 0xA0-0xA1
inline constexpr uint16_t kElcrBase = 0x4D0;      // 0x4D0-0x4D1
inline constexpr uint16_t kCmosIndex = 0x70;
inline constexpr uint16_t kCmosData = 0x71;
inline constexpr uint8_t kCmosCenturyIndex = 0x32;

// ACPI fixed hardware (FADT).
inline constexpr uint16_t kPm1aEventBlock = 0x600;   // PM1_STS (2 bytes), PM1_EN (2 bytes)
inline constexpr uint16_t kPm1aControlBlock = 0x604; // PM1_CNT (2 bytes)
inline constexpr uint16_t kPmTimerBlock = 0x608;     // PM_TMR (4 bytes, 32-bit)
inline constexpr uint16_t kResetPort = 0xCF9;
inline constexpr uint8_t kResetValue = 0x06;
inline constexpr uint8_t kSoftOffSleepType = 5; // DSDT _S5 = { 5, 5, 0, 0 }

// Device clocks.
inline constexpr uint64_t kPitHz = 1'193'182;
inline constexpr uint64_t kPmTimerHz = 3'579'545;

} // namespace halcyon::worker::platform
