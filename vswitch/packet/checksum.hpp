// Internet checksum helpers (RFC 1071 sum, RFC 1624 incremental update, TCP/UDP pseudo-headers).
// Sums are kept unfolded in 32 bits so partial sums over several pieces can be added together.
#pragma once

#include "vswitch/packet/bytes.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vswitch {

// Adds the big-endian 16-bit words of `data` to `sum` (an odd last byte is padded with zero).
// Callers summing several pieces must keep every piece but the last an even length.
[[nodiscard]] uint32_t checksum_add(std::span<const uint8_t> data, uint32_t sum = 0);

// Folds the carries and complements: the value to store in a checksum field.
[[nodiscard]] uint16_t checksum_finish(uint32_t sum);

// True if the one's-complement sum of `data` (checksum field included) verifies.
[[nodiscard]] bool checksum_verifies(std::span<const uint8_t> data, uint32_t sum = 0);

// RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered data changed.
[[nodiscard]] uint16_t checksum_update16(uint16_t checksum, uint16_t old_word, uint16_t new_word);
[[nodiscard]] uint16_t checksum_update32(uint16_t checksum, uint32_t old_value, uint32_t new_value);

// Computes and stores the IPv4 header checksum of `header` (IHL * 4 bytes).
void ipv4_set_header_checksum(std::span<uint8_t> header);
[[nodiscard]] bool ipv4_header_checksum_valid(std::span<const uint8_t> header);

// Pseudo-header partial sums for TCP/UDP/ICMPv6 (length = L4 header + payload).
[[nodiscard]] uint32_t pseudo_header_ipv4(Ipv4Address source, Ipv4Address destination,
                                          uint8_t protocol, uint16_t length);
[[nodiscard]] uint32_t pseudo_header_ipv6(const Ipv6Address& source, const Ipv6Address& destination,
                                          uint8_t next_header, uint32_t length);

// The checksum of an L4 segment (its checksum field must be zero) over a pseudo-header sum.
// For UDP a computed 0 is sent as 0xFFFF (0 means "no checksum" in UDP over IPv4).
[[nodiscard]] uint16_t l4_checksum(uint32_t pseudo_header_sum, std::span<const uint8_t> segment,
                                   bool is_udp);

} // namespace halcyon::vswitch
