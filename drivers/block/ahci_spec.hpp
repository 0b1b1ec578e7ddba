// AHCI 1.3.1 definitions the driver uses: HBA and port registers (3.1, 3.3), the command list
// header, command table and PRD entries (4.2), the received-FIS area (4.2.1) and the
// host-to-device register FIS (SATA 3.x, 10.5.5). Written from the specifications.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace halcyon::drivers::block::ahci {

// PCI class 01h (mass storage) / 06h (SATA) / 01h (AHCI 1.0); registers in BAR5 (ABAR).
inline constexpr uint8_t kPciClass = 0x01;
inline constexpr uint8_t kPciSubclass = 0x06;
inline constexpr uint8_t kPciProgIf = 0x01;
inline constexpr uint8_t kAbarIndex = 5;

// ---- Generic host control ----
inline constexpr uint32_t kCap = 0x00;
inline constexpr uint32_t kGhc = 0x04;
inline constexpr uint32_t kInterruptStatus = 0x08;
inline constexpr uint32_t kPortsImplemented = 0x0C;
inline constexpr uint32_t kVersion = 0x10;
inline constexpr uint32_t kCap2 = 0x24;
inline constexpr uint32_t kBohc = 0x28;

inline constexpr uint32_t kCap64Bit = 1u << 31;               // S64A
inline constexpr uint32_t kCapStaggeredSpinUp = 1u << 27;     // SSS
inline constexpr uint32_t kCapCommandListOverride = 1u << 24; // SCLO
inline constexpr uint32_t kCap2BiosHandoff = 1u << 0;         // BOH
inline constexpr uint32_t kGhcReset = 1u << 0;                // HR
inline constexpr uint32_t kGhcInterruptEnable = 1u << 1;      // IE
inline constexpr uint32_t kGhcAhciEnable = 1u << 31;          // AE
inline constexpr uint32_t kBohcBiosOwned = 1u << 0;           // BOS
inline constexpr uint32_t kBohcOsOwned = 1u << 1;             // OOS
inline constexpr uint32_t kBohcBiosBusy = 1u << 4;            // BB

inline constexpr uint32_t kMaxPorts = 32;

// ---- Port registers, relative to the port's block ----
[[nodiscard]] constexpr uint32_t port_base(uint32_t port) {
    return 0x100 + port * 0x80;
}
inline constexpr uint32_t kPxClb = 0x00; // command list base (1 KiB aligned), +4: upper
inline constexpr uint32_t kPxFb = 0x08;  // received FIS base (256 B aligned), +4: upper
inline constexpr uint32_t kPxIs = 0x10;
inline constexpr uint32_t kPxIe = 0x14;
inline constexpr uint32_t kPxCmd = 0x18;
inline constexpr uint32_t kPxTfd = 0x20;
inline constexpr uint32_t kPxSig = 0x24;
inline constexpr uint32_t kPxSsts = 0x28;
inline constexpr uint32_t kPxSctl = 0x2C;
inline constexpr uint32_t kPxSerr = 0x30;
inline constexpr uint32_t kPxSact = 0x34;
inline constexpr uint32_t kPxCi = 0x38;

inline constexpr uint32_t kCmdStart = 1u << 0;              // ST
inline constexpr uint32_t kCmdSpinUp = 1u << 1;             // SUD
inline constexpr uint32_t kCmdPowerOn = 1u << 2;            // POD
inline constexpr uint32_t kCmdListOverride = 1u << 3;       // CLO
inline constexpr uint32_t kCmdFisReceiveEnable = 1u << 4;   // FRE
inline constexpr uint32_t kCmdFisReceiveRunning = 1u << 14; // FR
inline constexpr uint32_t kCmdListRunning = 1u << 15;       // CR

inline constexpr uint32_t kTfdError = 1u << 0;       // STS.ERR
inline constexpr uint32_t kTfdDataRequest = 1u << 3; // STS.DRQ
inline constexpr uint32_t kTfdDeviceFault = 1u << 5; // STS.DF
inline constexpr uint32_t kTfdBusy = 1u << 7;        // STS.BSY

// PxIS bits that end a command with an error.
inline constexpr uint32_t kIsTaskFileError = 1u << 30;  // TFES
inline constexpr uint32_t kIsHostBusFatal = 1u << 29;   // HBFS
inline constexpr uint32_t kIsHostBusData = 1u << 28;    // HBDS
inline constexpr uint32_t kIsInterfaceFatal = 1u << 27; // IFS
inline constexpr uint32_t kIsErrors =
    kIsTaskFileError | kIsHostBusFatal | kIsHostBusData | kIsInterfaceFatal;

inline constexpr uint32_t kSstsDetectMask = 0xF;
inline constexpr uint32_t kSstsDevicePresent = 3; // device detected, PHY communication up

inline constexpr uint32_t kSignatureAta = 0x0000'0101;
inline constexpr uint32_t kSignatureAtapi = 0xEB14'0101;

// ---- Memory structures ----
struct CommandHeader {
    uint16_t flags; // CFL 4:0 (FIS dwords), A 5, W 6 (host to device), P 7, R 8, B 9, C 10
    uint16_t prdt_length;
    uint32_t bytes_transferred; // PRDBC, written by the HBA
    uint64_t table_address;     // CTBA (128-byte aligned) and CTBAU
    uint32_t reserved[4];
};
static_assert(sizeof(CommandHeader) == 32);
inline constexpr uint16_t kHeaderWrite = 1u << 6;
inline constexpr uint16_t kHeaderClearBusy = 1u << 10;
inline constexpr size_t kCommandListBytes = 32 * sizeof(CommandHeader); // 1 KiB

struct PrdEntry {
    uint64_t data_address; // bit 0 must be 0
    uint32_t reserved;
    uint32_t byte_count; // DBC 21:0 is bytes - 1 (odd: even byte counts only), I 31
};
static_assert(sizeof(PrdEntry) == 16);
inline constexpr uint32_t kPrdMaxBytes = 4u << 20;

inline constexpr size_t kCommandFisOffset = 0x00;
inline constexpr size_t kPrdtOffset = 0x80;
inline constexpr size_t kReceivedFisBytes = 256;
inline constexpr size_t kReceivedD2hOffset = 0x40;

// Host to device register FIS (20 bytes, 5 dwords).
struct RegisterH2dFis {
    uint8_t type;    // 0x27
    uint8_t flags;   // PM port 3:0, C 7 (command register update)
    uint8_t command; // ATA command
    uint8_t features_low;
    uint8_t lba0;
    uint8_t lba1;
    uint8_t lba2;
    uint8_t device; // bit 6: LBA addressing
    uint8_t lba3;
    uint8_t lba4;
    uint8_t lba5;
    uint8_t features_high;
    uint8_t count_low;
    uint8_t count_high;
    uint8_t icc;
    uint8_t control;
    uint32_t reserved;
};
static_assert(sizeof(RegisterH2dFis) == 20);
inline constexpr uint8_t kFisTypeRegisterH2d = 0x27;
inline constexpr uint8_t kFisCommand = 0x80;
inline constexpr uint8_t kDeviceLba = 0x40;

// ATA commands (ACS-3).
inline constexpr uint8_t kAtaReadDmaExt = 0x25;
inline constexpr uint8_t kAtaWriteDmaExt = 0x35;
inline constexpr uint8_t kAtaWriteDmaFuaExt = 0x3D;
inline constexpr uint8_t kAtaFlushCache = 0xE7;
inline constexpr uint8_t kAtaFlushCacheExt = 0xEA;
inline constexpr uint8_t kAtaIdentifyDevice = 0xEC;

// ATA error register bits (in PxTFD 15:8).
inline constexpr uint8_t kAtaErrorAbort = 1u << 2;
inline constexpr uint8_t kAtaErrorIdNotFound = 1u << 4;
inline constexpr uint8_t kAtaErrorUncorrectable = 1u << 6;
inline constexpr uint8_t kAtaErrorInterfaceCrc = 1u << 7;

} // namespace halcyon::drivers::block::ahci
