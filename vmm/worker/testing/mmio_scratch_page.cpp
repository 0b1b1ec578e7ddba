#include "vmm/worker/testing/mmio_scratch_page.hpp"

namespace halcyon::worker::testing {

uint64_t MmioScratchPage::mmio_read(uint64_t offset, unsigned size) {
    ++accesses_;
    if (size == 0 || size > 8)
        return ~uint64_t{0};
    uint64_t value = 0;
    // Assembled byte by byte so that unaligned offsets and accesses running off the page need
    // no special cases (and nothing depends on the host's alignment rules).
    for (unsigned i = 0; i < size; ++i) {
        const uint64_t at = offset + i;
        const uint64_t byte = at < kSize && at >= offset ? bytes_[at] : 0xFF;
        value |= byte << (8 * i);
    }
    // The bytes above `size` are zero, as a narrower load from RAM would leave them.
    return value;
}

void MmioScratchPage::mmio_write(uint64_t offset, unsigned size, uint64_t value) {
    ++accesses_;
    if (size == 0 || size > 8)
        return;
    for (unsigned i = 0; i < size; ++i) {
        const uint64_t at = offset + i;
        if (at < kSize && at >= offset)
            bytes_[at] = static_cast<uint8_t>(value >> (8 * i));
    }
}

} // namespace halcyon::worker::testing
