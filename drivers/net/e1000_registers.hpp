// Register map and legacy descriptors of the Intel 8254x (e1000, "PCI/PCI-X Family of Gigabit
// Ethernet Controllers Software Developer's Manual", chapters 3 and 13) and of the 82574
// (e1000e, "82574 GbE Controller Family Datasheet", chapter 10), restricted to what a polled
// driver with one receive and one transmit ring uses. The two share these offsets and the legacy
// descriptor format; where they differ (EERD layout, reset handshake) the name says which.
#pragma once

#include "drivers/pci/pci.hpp"

#include <optional>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::drivers::e1000 {

inline constexpr uint16_t kIntelVendor = 0x8086;

enum class Model : uint8_t {
    e1000,  // 8254x: 82540EM (QEMU's default e1000), 82540EP, 82545EM/GM copper
    e1000e, // 82574L (QEMU's e1000e), 82574LA
};

// The devices this driver knows, by PCI device id; nullopt for anything else.
[[nodiscard]] std::optional<Model> model_of(const pci::Function& function);
[[nodiscard]] const char* model_name(Model model);

// The register window (BAR0): 128 KiB on both families.
inline constexpr uint64_t kRegisterWindowBytes = 128 * 1024;

// Register offsets.
inline constexpr uint32_t kCtrl = 0x0000;
inline constexpr uint32_t kStatus = 0x0008;
inline constexpr uint32_t kEecd = 0x0010;
inline constexpr uint32_t kEerd = 0x0014;
inline constexpr uint32_t kIcr = 0x00C0;
inline constexpr uint32_t kIms = 0x00D0;
inline constexpr uint32_t kImc = 0x00D8;
inline constexpr uint32_t kRctl = 0x0100;
inline constexpr uint32_t kTctl = 0x0400;
inline constexpr uint32_t kTipg = 0x0410;
inline constexpr uint32_t kRdbal = 0x2800;
inline constexpr uint32_t kRdbah = 0x2804;
inline constexpr uint32_t kRdlen = 0x2808;
inline constexpr uint32_t kRdh = 0x2810;
inline constexpr uint32_t kRdt = 0x2818;
inline constexpr uint32_t kRdtr = 0x2820;
inline constexpr uint32_t kTdbal = 0x3800;
inline constexpr uint32_t kTdbah = 0x3804;
inline constexpr uint32_t kTdlen = 0x3808;
inline constexpr uint32_t kTdh = 0x3810;
inline constexpr uint32_t kTdt = 0x3818;
inline constexpr uint32_t kMta = 0x5200; // 128 dwords
inline constexpr uint32_t kMtaCount = 128;
inline constexpr uint32_t kRal0 = 0x5400; // receive address n: RAL at 0x5400 + 8n, RAH at +4
inline constexpr uint32_t kRah0 = 0x5404;

// Statistics registers: 32-bit, cleared when read.
inline constexpr uint32_t kCrcErrors = 0x4000;    // CRCERRS
inline constexpr uint32_t kRxErrors = 0x400C;     // RXERRC
inline constexpr uint32_t kMissed = 0x4010;       // MPC: no room in the receive FIFO
inline constexpr uint32_t kGoodReceived = 0x4074; // GPRC
inline constexpr uint32_t kGoodSent = 0x4080;     // GPTC
inline constexpr uint32_t kNoBuffers = 0x40A0;    // RNBC: no free receive descriptor

// CTRL.
inline constexpr uint32_t kCtrlGioMasterDisable = 1u << 2; // 82574 only
inline constexpr uint32_t kCtrlLinkReset = 1u << 3;        // LRST (8254x)
inline constexpr uint32_t kCtrlAutoSpeed = 1u << 5;        // ASDE
inline constexpr uint32_t kCtrlSetLinkUp = 1u << 6;        // SLU
inline constexpr uint32_t kCtrlInvertLoss = 1u << 7;       // ILOS
inline constexpr uint32_t kCtrlForceSpeed = 1u << 11;
inline constexpr uint32_t kCtrlForceDuplex = 1u << 12;
inline constexpr uint32_t kCtrlReset = 1u << 26; // RST, self-clearing
inline constexpr uint32_t kCtrlVlanMode = 1u << 30;
inline constexpr uint32_t kCtrlPhyReset = 1u << 31;

// STATUS.
inline constexpr uint32_t kStatusFullDuplex = 1u << 0;
inline constexpr uint32_t kStatusLinkUp = 1u << 1;
inline constexpr uint32_t kStatusGioMasterEnable = 1u << 19; // 82574 only

// EECD (82574): the NVM was read into the registers after reset.
inline constexpr uint32_t kEecdAutoReadDone = 1u << 9;

// EERD: start a read of one 16-bit EEPROM/NVM word; done bit and address position differ.
inline constexpr uint32_t kEerdStart = 1u << 0;
inline constexpr uint32_t kEerdDone8254x = 1u << 4;
inline constexpr unsigned kEerdAddressShift8254x = 8;
inline constexpr uint32_t kEerdDone82574 = 1u << 1;
inline constexpr unsigned kEerdAddressShift82574 = 2;
inline constexpr unsigned kEerdDataShift = 16;

// RAH.
inline constexpr uint32_t kRahAddressValid = 1u << 31;

// RCTL.
inline constexpr uint32_t kRctlEnable = 1u << 1;
inline constexpr uint32_t kRctlUnicastPromiscuous = 1u << 3;
inline constexpr uint32_t kRctlMulticastPromiscuous = 1u << 4;
inline constexpr uint32_t kRctlLongPackets = 1u << 5;
inline constexpr uint32_t kRctlBroadcastAccept = 1u << 15;
inline constexpr uint32_t kRctlBufferSizeMask = 3u << 16; // 00 with BSEX clear = 2048 bytes
inline constexpr uint32_t kRctlBufferSizeExtension = 1u << 25;
inline constexpr uint32_t kRctlStripCrc = 1u << 26; // SECRC

// TCTL.
inline constexpr uint32_t kTctlEnable = 1u << 1;
inline constexpr uint32_t kTctlPadShortPackets = 1u << 3;
inline constexpr unsigned kTctlCollisionThresholdShift = 4;
inline constexpr unsigned kTctlCollisionDistanceShift = 12;
inline constexpr uint32_t kTctlRetransmitLateCollision = 1u << 24;

// Legacy receive descriptor (8254x SDM 3.2.3, 82574 7.1.4.1).
struct RxDescriptor {
    uint64_t buffer_address;
    uint16_t length;
    uint16_t checksum;
    uint8_t status;
    uint8_t errors;
    uint16_t special;
};
static_assert(sizeof(RxDescriptor) == 16);

inline constexpr uint8_t kRxStatusDone = 1u << 0;        // DD
inline constexpr uint8_t kRxStatusEndOfPacket = 1u << 1; // EOP
// Errors that make the frame itself bad (CE, SE, SEQ, CXE, RXE); the checksum-offload bits
// (TCPE, IPE) do not, and offload is off anyway.
inline constexpr uint8_t kRxFrameErrors = (1u << 0) | (1u << 1) | (1u << 2) | (1u << 4) | (1u << 7);

// Legacy transmit descriptor (8254x SDM 3.3.3, 82574 7.2.10.1).
struct TxDescriptor {
    uint64_t buffer_address;
    uint16_t length;
    uint8_t checksum_offset;
    uint8_t command;
    uint8_t status;
    uint8_t checksum_start;
    uint16_t special;
};
static_assert(sizeof(TxDescriptor) == 16);

inline constexpr uint8_t kTxCommandEndOfPacket = 1u << 0;  // EOP
inline constexpr uint8_t kTxCommandInsertFcs = 1u << 1;    // IFCS
inline constexpr uint8_t kTxCommandReportStatus = 1u << 3; // RS: write DD back when done
inline constexpr uint8_t kTxStatusDone = 1u << 0;          // DD

// Rings: base 16-byte aligned (we use pages), length a multiple of 128 bytes = 8 descriptors.
inline constexpr uint16_t kRingGranule = 8;

} // namespace halcyon::drivers::e1000
