#include "vmm/vmx/msr_bitmap.hpp"

#include <string.h>

namespace halcyon::vmx {
namespace {

constexpr uint32_t kRangeSize = 0x2000;
constexpr uint32_t kHighBase = 0xC000'0000;
constexpr size_t kWriteOffset = 2048; // the write bitmaps follow the two read bitmaps
constexpr size_t kHighOffset = 1024;  // within each half: low range, then high range

// Byte offset of `msr`'s read bit in the bitmap, or -1 when the bitmap does not cover it.
int64_t read_byte(uint32_t msr) {
    if (msr < kRangeSize)
        return msr / 8;
    if (msr >= kHighBase && msr - kHighBase < kRangeSize)
        return static_cast<int64_t>(kHighOffset + (msr - kHighBase) / 8);
    return -1;
}

} // namespace

void intercept_all_msrs(std::span<uint8_t> bitmap) {
    memset(bitmap.data(), 0xFF, bitmap.size());
}

bool allow_msr_access(std::span<uint8_t> bitmap, uint32_t msr, bool read, bool write) {
    const int64_t byte = read_byte(msr);
    if (byte < 0)
        return false;
    const auto mask = static_cast<uint8_t>(~(1u << (msr % 8)));
    if (read)
        bitmap[static_cast<size_t>(byte)] &= mask;
    if (write)
        bitmap[static_cast<size_t>(byte) + kWriteOffset] &= mask;
    return true;
}

bool msr_access_exits(std::span<const uint8_t> bitmap, uint32_t msr, bool write) {
    const int64_t byte = read_byte(msr);
    if (byte < 0)
        return true;
    const size_t index = static_cast<size_t>(byte) + (write ? kWriteOffset : 0);
    return ((bitmap[index] >> (msr % 8)) & 1) != 0;
}

} // namespace halcyon::vmx
