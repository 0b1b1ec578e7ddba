// The storage self-test run at boot when the configuration asks for it: on a disk explicitly
// marked as scratch (sector 0 starts with kScratchMarker), write a known pattern to the last
// MiB (the first half with FUA, the rest normally, then a flush), read it back and compare.
// The pattern encodes each 8-byte word's byte offset on the disk, so a host can check the image
// file afterwards (tests/integration/storage_check.py) and misplaced data shows.
//
// The marker is a second key on top of the configuration switch: a real disk never carries it,
// so a configuration copied to the wrong machine cannot overwrite anyone's data.
#pragma once

#include "drivers/block/block_device.hpp"
#include "lib/base/error_or.hpp"

#include <stddef.h>
#include <stdint.h>

namespace halcyon::drivers::block {

inline constexpr char kScratchMarker[] = "HALCYON STORAGE SELFTEST SCRATCH";
inline constexpr size_t kScratchMarkerLength = sizeof(kScratchMarker) - 1; // 32, no NUL
inline constexpr uint64_t kSelftestBytes = 1u << 20;
inline constexpr uint64_t kSelftestSalt = 0x4841'4C43'594F'4E21ull; // "HALCYON!"

// The little-endian 64-bit word the pattern puts at byte `offset` (a multiple of 8) of the disk.
[[nodiscard]] constexpr uint64_t selftest_word(uint64_t offset) {
    return offset ^ kSelftestSalt;
}

struct SelftestOutcome {
    bool ran = false; // false: no scratch marker, the disk was not touched
    uint64_t first_sector = 0;
    uint32_t sectors = 0;
};

// Runs the self-test with `buffer` (DMA memory of at least kSelftestBytes).
[[nodiscard]] ErrorOr<SelftestOutcome> run_selftest(BlockDevice& device, const DmaRegion& buffer);

} // namespace halcyon::drivers::block
