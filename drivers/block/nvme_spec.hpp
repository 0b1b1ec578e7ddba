// NVM Express definitions the driver uses (NVMe base specification 1.4): controller registers
// (3.1), submission and completion queue entries (4.2, 4.6), admin and NVM opcodes, and the
// Identify data fields read (5.15). Written from the specification.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace halcyon::drivers::block::nvme {

// PCI class 01h (mass storage) / 08h (non-volatile memory) / 02h (NVM Express).
inline constexpr uint8_t kPciClass = 0x01;
inline constexpr uint8_t kPciSubclass = 0x08;
inline constexpr uint8_t kPciProgIf = 0x02;

// ---- Controller registers (byte offsets in BAR0) ----
inline constexpr uint32_t kCap = 0x00; // 64-bit
inline constexpr uint32_t kVersion = 0x08;
inline constexpr uint32_t kIntMaskSet = 0x0C;
inline constexpr uint32_t kIntMaskClear = 0x10;
inline constexpr uint32_t kCc = 0x14;
inline constexpr uint32_t kCsts = 0x1C;
inline constexpr uint32_t kAqa = 0x24;
inline constexpr uint32_t kAsq = 0x28; // 64-bit
inline constexpr uint32_t kAcq = 0x30; // 64-bit
inline constexpr uint32_t kDoorbellBase = 0x1000;

// CAP fields.
[[nodiscard]] constexpr uint32_t cap_max_queue_entries(uint64_t cap) {
    return static_cast<uint32_t>(cap & 0xFFFF) + 1; // MQES is 0-based
}
[[nodiscard]] constexpr uint32_t cap_timeout_500ms(uint64_t cap) {
    return static_cast<uint32_t>(cap >> 24) & 0xFF;
}
[[nodiscard]] constexpr uint32_t cap_doorbell_stride(uint64_t cap) {
    return 4u << ((cap >> 32) & 0xF); // bytes between doorbells
}
[[nodiscard]] constexpr bool cap_nvm_command_set(uint64_t cap) {
    return ((cap >> 37) & 1) != 0; // CSS bit 0: the NVM command set
}
[[nodiscard]] constexpr uint32_t cap_min_page_shift(uint64_t cap) {
    return 12 + static_cast<uint32_t>((cap >> 48) & 0xF);
}
[[nodiscard]] constexpr uint32_t cap_max_page_shift(uint64_t cap) {
    return 12 + static_cast<uint32_t>((cap >> 52) & 0xF);
}

// CC fields.
inline constexpr uint32_t kCcEnable = 1u << 0;
inline constexpr uint32_t kCcCssNvm = 0u << 4;
inline constexpr uint32_t kCcMps4K = 0u << 7; // 2^(12 + 0)
inline constexpr uint32_t kCcArbitrationRoundRobin = 0u << 11;
inline constexpr uint32_t kCcShutdownMask = 3u << 14;
inline constexpr uint32_t kCcIoSqEntrySize = 6u << 16; // 2^6 = 64 bytes
inline constexpr uint32_t kCcIoCqEntrySize = 4u << 20; // 2^4 = 16 bytes

// CSTS fields.
inline constexpr uint32_t kCstsReady = 1u << 0;
inline constexpr uint32_t kCstsFatal = 1u << 1;

// ---- Queue entries ----
struct SubmissionEntry {
    uint32_t cdw0; // opcode 7:0, fused 9:8, PSDT 15:14 (0 = PRPs), command id 31:16
    uint32_t nsid;
    uint32_t cdw2;
    uint32_t cdw3;
    uint64_t metadata;
    uint64_t prp1;
    uint64_t prp2;
    uint32_t cdw10;
    uint32_t cdw11;
    uint32_t cdw12;
    uint32_t cdw13;
    uint32_t cdw14;
    uint32_t cdw15;
};
static_assert(sizeof(SubmissionEntry) == 64);

struct CompletionEntry {
    uint32_t dw0; // command specific
    uint32_t dw1;
    uint16_t sq_head;
    uint16_t sq_id;
    uint16_t command_id;
    uint16_t status; // phase 0, status code 8:1, status code type 11:9, more 14, DNR 15
};
static_assert(sizeof(CompletionEntry) == 16);

[[nodiscard]] constexpr bool completion_phase(uint16_t status) {
    return (status & 1) != 0;
}
[[nodiscard]] constexpr uint8_t status_code(uint16_t status) {
    return static_cast<uint8_t>(status >> 1);
}
[[nodiscard]] constexpr uint8_t status_code_type(uint16_t status) {
    return static_cast<uint8_t>((status >> 9) & 7);
}

// ---- Opcodes ----
inline constexpr uint8_t kAdminCreateIoSq = 0x01;
inline constexpr uint8_t kAdminCreateIoCq = 0x05;
inline constexpr uint8_t kAdminIdentify = 0x06;
inline constexpr uint8_t kIoFlush = 0x00;
inline constexpr uint8_t kIoWrite = 0x01;
inline constexpr uint8_t kIoRead = 0x02;

inline constexpr uint32_t kCdw12ForceUnitAccess = 1u << 30;

// Identify CNS values (CDW10 7:0).
inline constexpr uint32_t kIdentifyNamespace = 0x00;
inline constexpr uint32_t kIdentifyController = 0x01;
inline constexpr uint32_t kIdentifyActiveNamespaces = 0x02;

// Identify Controller fields (byte offsets in the 4 KiB structure).
inline constexpr size_t kIdSerial = 4; // 20 ASCII
inline constexpr size_t kIdModel = 24; // 40 ASCII
inline constexpr size_t kIdMdts = 77;
inline constexpr size_t kIdSqes = 512;
inline constexpr size_t kIdCqes = 513;
inline constexpr size_t kIdNamespaceCount = 516;
inline constexpr size_t kIdVolatileWriteCache = 525; // bit 0: present

// Identify Namespace fields.
inline constexpr size_t kNsSize = 0;              // NSZE, 64-bit, in logical blocks
inline constexpr size_t kNsLbaFormatCount = 25;   // NLBAF, 0-based
inline constexpr size_t kNsFormattedLbaSize = 26; // FLBAS: format index 3:0, extended data 4
inline constexpr size_t kNsAttributes = 99;       // NSATTR bit 0: write protected
inline constexpr size_t kNsLbaFormats = 128;      // 16 x 4 bytes: MS 15:0, LBADS 23:16

inline constexpr size_t kIdentifyBytes = 4096;

} // namespace halcyon::drivers::block::nvme
