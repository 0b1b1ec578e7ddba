// CRC-32C (Castagnoli), the checksum of every VHDX header, region table and log entry.
#pragma once

#include <span>
#include <stdint.h>

namespace halcyon::vhdx {

// Continues a running CRC: pass the previous result as crc (0 to start).
[[nodiscard]] uint32_t crc32c(std::span<const uint8_t> data, uint32_t crc = 0);

// CRC-32C of buffer with the 4-byte checksum field at checksum_offset taken as zero, as VHDX
// computes it.
[[nodiscard]] uint32_t crc32c_with_zero_field(std::span<const uint8_t> buffer,
                                              size_t checksum_offset);

} // namespace halcyon::vhdx
