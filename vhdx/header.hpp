// The header section: file type identifier and the two alternating headers (MS-VHDX 2.2).
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/allocator.hpp"
#include "vhdx/block_io.hpp"
#include "vhdx/format.hpp"

namespace halcyon::vhdx {

// The current header and where it lives.
struct CurrentHeader {
    format::Header header;
    int slot;         // 0 or 1: which copy is current
    bool other_valid; // whether the other copy is valid too
};

[[nodiscard]] ErrorOr<void> check_file_identifier(BlockIo& io);
[[nodiscard]] ErrorOr<void> write_file_identifier(BlockIo& io);

// Validates one 4 KiB header image (signature, CRC-32C, version, log fields).
[[nodiscard]] ErrorOr<void> validate_header(const format::Header& header, uint64_t file_size);

// Reads both headers and picks the valid one with the higher sequence number. Errors name the
// header ("header 1: bad CRC-32C") when neither copy is usable.
[[nodiscard]] ErrorOr<CurrentHeader> read_current_header(BlockIo& io, Allocator& allocator);

// Writes `next` (whose sequence number is set here) following MS-VHDX 2.2.2.1: into the
// non-current slot, flush, then into the other slot, flush. Each step leaves a valid header with
// a higher sequence number, so a crash at any point keeps either the old or the new contents.
// On return `current` describes the new state.
[[nodiscard]] ErrorOr<void> update_header(BlockIo& io, CurrentHeader& current,
                                          const format::Header& next);

} // namespace halcyon::vhdx
