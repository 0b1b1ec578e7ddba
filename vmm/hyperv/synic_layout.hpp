// The guest-visible layouts of the SynIC (TLFS "Inter-Partition Communication", HV_MESSAGE,
// HV_SYNIC_EVENT_FLAGS, HV_TIMER_MESSAGE_PAYLOAD) and of the SynIC and synthetic-timer MSRs.
//
// The SIM page (SIMP) holds 16 message slots of 256 bytes, one per SINT; the SIEF page (SIEFP)
// 16 blocks of 256 bytes (2048 event flags), one per SINT. A message slot:
//     0  u32 message type (0 = HvMessageTypeNone: the slot is empty)
//     4  u8  payload size          5  u8 flags (bit 0 MessagePending)     6  u16 reserved
//     8  u64 origination id (port id for posted messages, 0 for timers)
//    16  payload, up to 240 bytes
// The TLFS's HV_MESSAGE page swaps payload size and flags and puts the reserved word first;
// every implementation guests talk to (Hyper-V itself, as Linux's and Windows' drivers read it)
// uses the order above, so that is the one that counts. The first 8 bytes form one naturally
// aligned 64-bit word - the "header word" that the SynIC changes atomically, because the guest
// clears the type (a 32-bit store) while the hypervisor sets MessagePending (byte 5).
#pragma once

#include "vmm/hyperv/synic_ports.hpp"

#include <stdint.h>

namespace halcyon::vmm::hyperv {

// --- SIM page ---
inline constexpr uint32_t kMessageSlotBytes = 256;
inline constexpr uint32_t kMessageHeaderBytes = 16;
inline constexpr uint32_t kMessageOriginOffset = 8;
inline constexpr uint32_t kMessagePayloadOffset = 16;
static_assert(kMessageHeaderBytes + kMaxMessagePayloadBytes == kMessageSlotBytes);
static_assert(kSintCount * kMessageSlotBytes == 4096);

inline constexpr uint32_t kMessageTypeNone = 0;
// Message types with the high bit set belong to the hypervisor; guests may not post them.
inline constexpr uint32_t kMessageTypeHypervisorMask = 0x8000'0000;
inline constexpr uint32_t kMessageTimerExpired = 0x8000'0010;
inline constexpr uint8_t kMessageFlagPending = 1u << 0;

// The header word: type, payload size, flags, reserved (zero).
[[nodiscard]] constexpr uint64_t message_header_word(uint32_t type, uint8_t payload_size,
                                                     uint8_t flags) {
    return type | (uint64_t{payload_size} << 32) | (uint64_t{flags} << 40);
}
[[nodiscard]] constexpr uint32_t header_type(uint64_t word) {
    return static_cast<uint32_t>(word);
}
[[nodiscard]] constexpr uint8_t header_flags(uint64_t word) {
    return static_cast<uint8_t>(word >> 40);
}
inline constexpr uint64_t kHeaderPendingBit = uint64_t{kMessageFlagPending} << 40;

// HV_TIMER_MESSAGE_PAYLOAD: u32 timer index, u32 reserved, u64 expiration time, u64 delivery
// time (reference time, 100 ns units).
inline constexpr uint8_t kTimerMessagePayloadBytes = 24;

// --- SIEF page ---
inline constexpr uint32_t kEventFlagBytesPerSint = 256;
inline constexpr uint32_t kEventFlagsPerSint = kEventFlagBytesPerSint * 8; // 2048

// --- SynIC MSR fields ---
inline constexpr uint64_t kScontrolEnable = 1u << 0;
inline constexpr uint64_t kSynicVersion = 1;          // SVERSION: the only version the TLFS defines
inline constexpr uint64_t kSynicPageEnable = 1u << 0; // SIEFP / SIMP bit 0
inline constexpr uint64_t kSynicPageAddressMask = ~uint64_t{0xFFF};
inline constexpr uint64_t kSintVectorMask = 0xFF;
inline constexpr uint64_t kSintMasked = uint64_t{1} << 16;
inline constexpr uint64_t kSintAutoEoi = uint64_t{1} << 17;
inline constexpr uint64_t kSintPolling = uint64_t{1} << 18;
inline constexpr uint64_t kSintResetValue = kSintMasked;
inline constexpr uint8_t kFirstValidVector = 16; // vectors 0-15 are exceptions

// --- synthetic timer CONFIG ---
inline constexpr uint64_t kStimerEnable = 1u << 0;
inline constexpr uint64_t kStimerPeriodic = 1u << 1;
inline constexpr uint64_t kStimerLazy = 1u << 2;
inline constexpr uint64_t kStimerAutoEnable = 1u << 3;
inline constexpr unsigned kStimerVectorShift = 4; // bits 11:4, direct mode's APIC vector
inline constexpr uint64_t kStimerDirectMode = 1u << 12;
inline constexpr unsigned kStimerSintShift = 16; // bits 19:16
// RsvdZ: bits 15:13 and 63:20.
inline constexpr uint64_t kStimerReserved = (uint64_t{0x7} << 13) | ~((uint64_t{1} << 20) - 1);
inline constexpr uint32_t kStimerCount = 4;

} // namespace halcyon::vmm::hyperv
