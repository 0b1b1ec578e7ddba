// The two TFTP packets (RFC 1350, options per RFC 2347/2349) the loader builds and reads by
// itself: a read request asking for the file's size ("tsize"), and the server's reply to it.
// Needed because some PXE base code implementations (iPXE's) cannot report a file's size, and
// the loader must know it to load each file with a single transfer into pages of the right
// size. Pure code, unit tested on the host.
#pragma once

#include "lib/base/error_or.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::loader::tftp {

inline constexpr uint16_t kServerPort = 69;
inline constexpr uint16_t kOpcodeReadRequest = 1;
inline constexpr uint16_t kOpcodeData = 3;
inline constexpr uint16_t kOpcodeError = 5;
inline constexpr uint16_t kOpcodeOptionAck = 6;

// Writes an octet-mode read request for `file_name` with the option "tsize" = 0 (RFC 2349:
// the server answers with the size). Returns the packet length.
[[nodiscard]] ErrorOr<size_t> build_size_request(const char* file_name, std::span<uint8_t> out);

// Writes an ERROR packet that ends a transfer we no longer want (RFC 2347 code 8: "transfer
// should be terminated due to option negotiation"). Returns the packet length.
[[nodiscard]] size_t build_abort(std::span<uint8_t> out);

// What the server said to a size request.
struct SizeReply {
    enum class Kind { size, no_size, error } kind;
    uint64_t size;       // kind == size
    uint16_t error_code; // kind == error (1 = file not found, 2 = access violation, ...)
};

// Reads the server's reply: an OACK carrying tsize (kind size), a DATA packet or an OACK
// without tsize (kind no_size: the server ignores the option), or an ERROR. Malformed
// packets are errors.
[[nodiscard]] ErrorOr<SizeReply> parse_size_reply(std::span<const uint8_t> packet);

} // namespace halcyon::loader::tftp
