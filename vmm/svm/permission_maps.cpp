#include "vmm/svm/permission_maps.hpp"

#include <string.h>

namespace halcyon::svm {
namespace {

// Each MSR range takes 2 KiB of the map: 8192 MSRs at 2 bits (read bit, then write bit).
struct MsrRange {
    uint32_t first;
    uint32_t map_offset;
};
constexpr MsrRange kMsrRanges[] = {
    {0x0000'0000, 0x0000},
    {0xC000'0000, 0x0800},
    {0xC001'0000, 0x1000},
};
constexpr uint32_t kMsrsPerRange = 0x2000;

// Bit index of the read bit of `msr` in the map, or -1 when the map does not cover it.
int64_t msr_bit(uint32_t msr) {
    for (const MsrRange& range : kMsrRanges) {
        if (msr >= range.first && msr - range.first < kMsrsPerRange)
            return static_cast<int64_t>(range.map_offset) * 8 + (msr - range.first) * 2;
    }
    return -1;
}

void clear_bit(std::span<uint8_t> map, size_t bit) {
    map[bit / 8] = static_cast<uint8_t>(map[bit / 8] & ~(1u << (bit % 8)));
}

bool test_bit(std::span<const uint8_t> map, size_t bit) {
    return (map[bit / 8] >> (bit % 8)) & 1;
}

} // namespace

void intercept_all(std::span<uint8_t> map) {
    memset(map.data(), 0xFF, map.size());
}

void allow_port(std::span<uint8_t> iopm, uint16_t port) {
    clear_bit(iopm, port);
}

bool allow_msr(std::span<uint8_t> msrpm, uint32_t msr, bool read, bool write) {
    const int64_t bit = msr_bit(msr);
    if (bit < 0)
        return false;
    if (read)
        clear_bit(msrpm, static_cast<size_t>(bit));
    if (write)
        clear_bit(msrpm, static_cast<size_t>(bit) + 1);
    return true;
}

bool msr_intercepted(std::span<const uint8_t> msrpm, uint32_t msr, bool write) {
    const int64_t bit = msr_bit(msr);
    return bit < 0 || test_bit(msrpm, static_cast<size_t>(bit) + (write ? 1 : 0));
}

bool port_intercepted(std::span<const uint8_t> iopm, uint16_t port) {
    return test_bit(iopm, port);
}

} // namespace halcyon::svm
