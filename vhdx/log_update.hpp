// One change to the file that must go through the log: `length` bytes at `file_offset` (both
// multiples of 4 KiB). data == nullptr means "zero this range" (a zero descriptor).
#pragma once

#include <stdint.h>

namespace halcyon::vhdx {

struct LogUpdate {
    uint64_t file_offset;
    uint64_t length;
    const uint8_t* data;
};

} // namespace halcyon::vhdx
