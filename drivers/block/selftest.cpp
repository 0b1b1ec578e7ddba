#include "drivers/block/selftest.hpp"

#include <string.h>

namespace halcyon::drivers::block {
namespace {

void fill_pattern(uint8_t* out, uint64_t disk_offset, size_t bytes) {
    for (size_t i = 0; i + 8 <= bytes; i += 8) {
        const uint64_t word = selftest_word(disk_offset + i);
        memcpy(out + i, &word, sizeof word);
    }
}

} // namespace

ErrorOr<SelftestOutcome> run_selftest(BlockDevice& device, const DmaRegion& buffer) {
    const DiskInfo& info = device.info();
    if (buffer.size < kSelftestBytes)
        return Error(ErrorCode::invalid_argument, "self-test buffer is smaller than 1 MiB");
    SelftestOutcome outcome;
    TRY(device.read(0, 1, buffer));
    if (memcmp(buffer.virt, kScratchMarker, kScratchMarkerLength) != 0)
        return outcome; // not a scratch disk: leave it alone
    if (info.read_only)
        return Error(ErrorCode::permission, "scratch disk is read-only");
    if (info.capacity_bytes() < 2 * kSelftestBytes)
        return Error(ErrorCode::out_of_range, "scratch disk is smaller than 2 MiB");

    const uint32_t sectors = static_cast<uint32_t>(kSelftestBytes / info.sector_size);
    const uint64_t first = info.sector_count - sectors;
    fill_pattern(buffer.virt, first * info.sector_size, kSelftestBytes);
    // The first half FUA (durable on return), the rest cached until the flush.
    const uint32_t half = sectors / 2;
    TRY(device.write(first, half, buffer, WriteMode::fua));
    TRY(device.write(first + half, sectors - half,
                     dma_slice(buffer, size_t(half) * info.sector_size, kSelftestBytes),
                     WriteMode::normal));
    TRY(device.flush());

    memset(buffer.virt, 0, kSelftestBytes);
    TRY(device.read(first, sectors, buffer));
    for (size_t i = 0; i < kSelftestBytes; i += 8) {
        uint64_t word;
        memcpy(&word, buffer.virt + i, sizeof word);
        if (word != selftest_word(first * info.sector_size + i))
            return Error(ErrorCode::corrupt,
                         "self-test data read back differs from what was written");
    }
    outcome.ran = true;
    outcome.first_sector = first;
    outcome.sectors = sectors;
    return outcome;
}

} // namespace halcyon::drivers::block
