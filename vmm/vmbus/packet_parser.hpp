// Turns a packet copied out of a guest->host ring into the IncomingPacket a VSP sees: the
// descriptor checked (type, flags, offsets), and for GPA-direct packets the range list parsed
// into GpaRanges whose page lists point into the same copy. Pure: no guest memory access (the
// pages named by the ranges are checked against guest RAM by GuestMemory when the VSP uses
// them).
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/vmbus/channel_device.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::vmbus {

// `packet` holds `bytes` bytes (descriptor through payload, 8-byte aligned storage); `ranges`
// receives the ranges of a GPA-direct packet (its size is the most accepted). Errors are
// ErrorCode::corrupt (malformed) or ErrorCode::not_supported (a packet type guests do not send).
[[nodiscard]] ErrorOr<IncomingPacket> parse_packet(std::span<const uint64_t> packet, uint32_t bytes,
                                                   std::span<GpaRange> ranges);

} // namespace halcyon::vmm::vmbus
