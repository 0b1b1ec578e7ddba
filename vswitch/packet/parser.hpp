// The bounds-checked header parser. It reads only bytes inside [data, data + length): every field
// access is preceded by a length check, so a hostile frame can at worst be rejected.
#pragma once

#include "lib/base/error_or.hpp"
#include "vswitch/packet/frame.hpp"

namespace halcyon::vswitch {

// Upper bound on IPv6 extension headers walked before the frame is called malformed; real traffic
// uses at most a few, and the bound keeps the per-packet cost bounded for hostile input.
inline constexpr uint32_t kMaxIpv6ExtensionHeaders = 8;

// Parses Ethernet, up to two VLAN tags (802.1Q / 802.1ad), then ARP, IPv4 (with options) or IPv6
// (with extension headers), then TCP, UDP, ICMPv4, ICMPv6 or GRE. Fills frame.headers. An error
// (ErrorCode::corrupt, with a message saying which header) means the frame is malformed: a
// recognised header is truncated or inconsistent. Unknown ethertypes and IP protocols are not
// errors; they just stop the parse at that layer.
[[nodiscard]] ErrorOr<void> parse_headers(Frame& frame);

// Parses the same headers from a raw span into `out` (for components that look at an inner frame
// without a Frame, e.g. the NVGRE payload).
[[nodiscard]] ErrorOr<void> parse_headers(std::span<const uint8_t> bytes, ParsedHeaders& out);

// The same two parses for the packet path, which only needs to know whether the frame is
// malformed: false where the functions above return an error (and the same headers result).
[[nodiscard]] bool parse_frame(Frame& frame);
[[nodiscard]] bool parse_frame_headers(const uint8_t* bytes, uint32_t length, ParsedHeaders& out);

} // namespace halcyon::vswitch
