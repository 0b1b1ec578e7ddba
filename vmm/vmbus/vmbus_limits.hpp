// Fixed capacities of one VM's VMBus host. Every table is sized here so the host never
// allocates after construction; a guest that asks for more gets a refusal (a failure status or
// a logged, ignored message), never more memory. docs/vmbus.md explains each number.
#pragma once

#include <stdint.h>

namespace halcyon::vmm::vmbus {

// Devices (primary offers) and channels (primary + sub-channels); relids are 1..kMaxChannels.
inline constexpr uint32_t kMaxDevices = 16;
inline constexpr uint32_t kMaxSubchannelsPerDevice = 15;
inline constexpr uint32_t kMaxChannels = 64;

// GPADLs: how many may exist at once, how many range entries (u64: one header per range plus
// one per page) one may hold and all of them together. One GPADL is bounded by the 16-bit
// range_buffer_bytes of GPADL_HEADER (8191 entries, ~32 MiB; Linux's netvsc receive buffer is
// 16 MiB); 65536 entries describe ~256 MiB of guest memory and cost 512 KiB of host memory.
inline constexpr uint32_t kMaxGpadls = 128;
inline constexpr uint32_t kMaxGpadlRanges = 32;
inline constexpr uint32_t kMaxGpadlEntries = 0xFFFF / 8;
inline constexpr uint32_t kGpadlPoolEntries = 65536;

// Ring GPADLs: each direction needs its control page plus at least one data page; the whole
// ring GPADL (both directions) is capped at 8 MiB.
inline constexpr uint32_t kMinRingPagesPerDirection = 2;
inline constexpr uint32_t kMaxRingPages = 2048;

// Incoming packets: the largest packet copied out of a guest->host ring (descriptor, range list
// and payload), and the most ranges of a GPA-direct packet. Larger means a corrupt ring.
inline constexpr uint32_t kMaxPacketBytes = 16384;
inline constexpr uint32_t kMaxGpaDirectRanges = 32;

// Host->guest messages waiting for the guest's SynIC (an offer burst of every channel, plus
// room for the replies of a few guest messages).
inline constexpr uint32_t kOutboxCapacity = 2 * kMaxChannels + 16;

// Free space a host->guest ring must have before the host hands the VSP the next request, so
// the VSP's answer always fits (a storvsc completion is ~80 bytes, hv_utils replies < 512).
inline constexpr uint32_t kDefaultReplyReserveBytes = 512;

} // namespace halcyon::vmm::vmbus
