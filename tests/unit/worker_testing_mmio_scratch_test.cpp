// The MMIO scratch page (vmm/worker/testing/mmio_scratch_page.hpp) must behave like RAM for
// every access the emulator can make: any size 1..8 at any offset, little-endian, pieces of a
// split access landing where a whole access would, and nothing outside the page.
#include "vmm/worker/testing/mmio_scratch_page.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <memory>
#include <random>

using halcyon::worker::testing::MmioScratchPage;

namespace {

uint64_t mask(unsigned size) {
    return size == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * size)) - 1;
}

TEST(MmioScratchPage, ClaimsExactlyItsPage) {
    MmioScratchPage page;
    EXPECT_EQ(MmioScratchPage::kBase, 0xFEB00000u);
    EXPECT_TRUE(page.claims(0xFEB00000));
    EXPECT_TRUE(page.claims(0xFEB00FFF));
    EXPECT_FALSE(page.claims(0xFEB01000));
    EXPECT_FALSE(page.claims(0xFEAFFFFF));
    EXPECT_FALSE(page.claims(0));
    EXPECT_FALSE(page.claims(~uint64_t{0}));
}

TEST(MmioScratchPage, StartsZeroed) {
    MmioScratchPage page;
    for (uint64_t offset = 0; offset < MmioScratchPage::kSize; offset += 8)
        ASSERT_EQ(page.mmio_read(offset, 8), 0u) << offset;
}

TEST(MmioScratchPage, LittleEndianAcrossSizes) {
    MmioScratchPage page;
    page.mmio_write(0x10, 8, 0x8877665544332211ULL);
    EXPECT_EQ(page.mmio_read(0x10, 1), 0x11u);
    EXPECT_EQ(page.mmio_read(0x11, 1), 0x22u);
    EXPECT_EQ(page.mmio_read(0x10, 2), 0x2211u);
    EXPECT_EQ(page.mmio_read(0x13, 4), 0x77665544u);
    EXPECT_EQ(page.mmio_read(0x11, 7), 0x88776655443322u);
    page.mmio_write(0x12, 2, 0xBBAA);
    EXPECT_EQ(page.mmio_read(0x10, 8), 0x88776655BBAA2211ULL);
    // Only the low `size` bytes of a write's value are stored.
    page.mmio_write(0x10, 1, 0xFFFFFFFFFFFFFF00ULL);
    EXPECT_EQ(page.mmio_read(0x10, 8), 0x88776655BBAA2200ULL);
}

TEST(MmioScratchPage, AccessesRunningOffThePageTouchOnlyThePage) {
    MmioScratchPage page;
    page.mmio_write(0xFFC, 8, 0x1122334455667788ULL);
    EXPECT_EQ(page.mmio_read(0xFFC, 4), 0x55667788u);
    // Bytes beyond the page read as an absent device does: all ones.
    EXPECT_EQ(page.mmio_read(0xFFC, 8), 0xFFFFFFFF55667788ULL);
    EXPECT_EQ(page.mmio_read(0x1000, 4), 0xFFFFFFFFu);
    EXPECT_EQ(page.mmio_read(~uint64_t{0}, 2), 0xFFFFu); // no wrap-around to offset 0
    page.mmio_write(~uint64_t{0}, 2, 0xABCD);
    EXPECT_EQ(page.mmio_read(0, 1), 0u);
}

TEST(MmioScratchPage, InvalidSizesAreHarmless) {
    MmioScratchPage page;
    page.mmio_write(0, 8, 0x0102030405060708ULL);
    page.mmio_write(0, 0, 0xFF);
    page.mmio_write(0, 9, 0xFF);
    EXPECT_EQ(page.mmio_read(0, 8), 0x0102030405060708ULL);
    EXPECT_EQ(page.mmio_read(0, 0), ~uint64_t{0});
    EXPECT_EQ(page.mmio_read(0, 16), ~uint64_t{0});
}

TEST(MmioScratchPage, CountsEveryAccess) {
    MmioScratchPage page;
    EXPECT_EQ(page.accesses(), 0u);
    page.mmio_write(0, 4, 1);
    (void)page.mmio_read(0, 4);
    (void)page.mmio_read(0x2000, 4);
    EXPECT_EQ(page.accesses(), 3u);
}

// A random mix of accesses, whole and split into two pieces the way the emulator splits an
// access at a page boundary, against a plain byte array.
TEST(MmioScratchPage, BehavesLikeRamUnderRandomAccesses) {
    auto page = std::make_unique<MmioScratchPage>();
    uint8_t model[MmioScratchPage::kSize] = {};
    std::mt19937_64 random(12345);
    for (int i = 0; i < 20000; ++i) {
        const unsigned size = 1 + random() % 8;
        const uint64_t offset = random() % (MmioScratchPage::kSize - size + 1);
        if (random() % 2) {
            const uint64_t value = random();
            if (size > 1 && random() % 2) {
                const unsigned first = 1 + random() % (size - 1);
                page->mmio_write(offset, first, value & mask(first));
                page->mmio_write(offset + first, size - first, value >> (8 * first));
            } else {
                page->mmio_write(offset, size, value);
            }
            std::memcpy(model + offset, &value, size); // the host is little-endian too
        } else {
            uint64_t expected = 0;
            std::memcpy(&expected, model + offset, size);
            uint64_t got;
            if (size > 1 && random() % 2) {
                const unsigned first = 1 + random() % (size - 1);
                got = page->mmio_read(offset, first) | page->mmio_read(offset + first, size - first)
                                                           << (8 * first);
            } else {
                got = page->mmio_read(offset, size);
            }
            ASSERT_EQ(got, expected) << "access " << i << " offset " << offset << " size " << size;
        }
    }
}

} // namespace
