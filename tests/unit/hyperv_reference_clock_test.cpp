// The partition reference time (vmm/hyperv/reference_clock.hpp): the scale and offset of the
// reference TSC page, and the MSR view computed with the same formula, against exact
// 128-bit reference arithmetic.
#include "hyperv_test_support.hpp"
#include "vmm/hyperv/reference_clock.hpp"

#include <cstring>
#include <gtest/gtest.h>

namespace halcyon::vmm::hyperv {
namespace {

using u128 = unsigned __int128;

// The exact elapsed reference time, floor((tsc - creation) * 10^7 / hz).
uint64_t exact(uint64_t tsc, uint64_t creation, uint64_t hz) {
    return static_cast<uint64_t>(static_cast<u128>(tsc - creation) * kReferenceHz / hz);
}

TEST(HypervReferenceClock, FractionIsFloorOfTheExactQuotient) {
    for (uint64_t hz : {10'000'001ull, 1'000'000'000ull, 2'500'000'000ull, 3'000'000'007ull,
                        0xFFFF'FFFF'FFFF'FFFFull}) {
        const u128 expected = (static_cast<u128>(kReferenceHz) << 64) / hz;
        EXPECT_EQ(fraction_of_2_pow_64(kReferenceHz, hz), static_cast<uint64_t>(expected)) << hz;
    }
    EXPECT_EQ(fraction_of_2_pow_64(1, 2), uint64_t{1} << 63);
    EXPECT_EQ(fraction_of_2_pow_64(0, 7), 0u);
}

TEST(HypervReferenceClock, ZeroAtCreation) {
    for (uint64_t creation : {0ull, 1ull, 123'456'789ull, 1ull << 40, ~0ull - 1'000'000})
        EXPECT_EQ(ReferenceClock(2'400'000'000, creation).time_at(creation), 0u) << creation;
}

TEST(HypervReferenceClock, CountsHundredNanosecondUnits) {
    // 1.28 GHz = 128 ticks per 100 ns: the scale 2^57 is exact, and created at TSC 0 the offset
    // is 0, so the formula is a plain floor(tsc / 128).
    const ReferenceClock clock(1'280'000'000, 0);
    EXPECT_EQ(clock.scale(), uint64_t{1} << 57);
    EXPECT_EQ(clock.offset(), 0);
    EXPECT_EQ(clock.time_at(1'280'000'000), 10'000'000u); // one second
    EXPECT_EQ(clock.time_at(128), 1u);                    // 100 ns
    EXPECT_EQ(clock.time_at(127), 0u);
    // Otherwise the scale is rounded down and the integer offset drops the fraction of
    // creation_tsc * scale: the time may be one unit off the exact count (the next test
    // bounds it).
    const ReferenceClock other(2'000'000'000, 5'000);
    EXPECT_NEAR(static_cast<double>(other.time_at(5'000 + 2'000'000'000)), 10'000'000.0, 1.0);
    EXPECT_LE(other.time_at(5'000 + 199), 1u);
}

TEST(HypervReferenceClock, WithinOneUnitOfExactAndMonotonic) {
    for (uint64_t hz : {10'000'001ull, 1'193'182'000ull, 2'500'000'000ull, 3'700'123'456ull}) {
        const uint64_t creation = 0x1234'5678'9ABCull;
        const ReferenceClock clock(hz, creation);
        ASSERT_TRUE(clock.page_valid());
        uint64_t previous = 0;
        // Steps from one tick up to years, all the way to a TSC near 2^63.
        for (uint64_t step = 1; step < (1ull << 62); step = step * 3 + 1) {
            const uint64_t tsc = creation + step;
            const uint64_t time = clock.time_at(tsc);
            const uint64_t truth = exact(tsc, creation, hz);
            ASSERT_LE(time, truth + 1) << hz << " " << step;
            ASSERT_GE(time + 1, truth) << hz << " " << step;
            ASSERT_GE(time, previous);
            previous = time;
        }
    }
}

TEST(HypervReferenceClock, PageHeaderLayout) {
    const ReferenceClock clock(2'500'000'000, 777'777);
    const TscPageHeader header = clock.page_header();
    uint32_t sequence, reserved;
    uint64_t scale;
    int64_t offset;
    std::memcpy(&sequence, header.data(), 4);
    std::memcpy(&reserved, header.data() + 4, 4);
    std::memcpy(&scale, header.data() + 8, 8);
    std::memcpy(&offset, header.data() + 16, 8);
    EXPECT_EQ(sequence, 1u);
    EXPECT_EQ(reserved, 0u);
    EXPECT_EQ(scale, clock.scale());
    EXPECT_EQ(scale, fraction_of_2_pow_64(kReferenceHz, 2'500'000'000));
    EXPECT_EQ(offset, clock.offset());
    EXPECT_EQ(offset, -static_cast<int64_t>((static_cast<u128>(777'777) * scale) >> 64));
}

TEST(HypervReferenceClock, SlowTscInvalidatesThePageButNotTheMsr) {
    // A TSC of 10 MHz or less cannot be scaled by a 64-bit fraction: TscSequence 0 sends the
    // guest to the MSR, which still counts exactly.
    for (uint64_t hz : {2ull, 1'000'000ull, 10'000'000ull}) {
        const ReferenceClock clock(hz, 42);
        EXPECT_FALSE(clock.page_valid()) << hz;
        uint32_t sequence;
        std::memcpy(&sequence, clock.page_header().data(), 4);
        EXPECT_EQ(sequence, 0u);
        EXPECT_EQ(clock.time_at(42), 0u);
        EXPECT_EQ(clock.time_at(42 + hz), kReferenceHz) << hz;
        EXPECT_EQ(clock.time_at(42 + 3 * hz + hz / 2), 3 * kReferenceHz + kReferenceHz / 2);
    }
}

TEST(HypervReferenceClock, ZeroFrequencyIsDefined) {
    const ReferenceClock clock(0, 0);
    EXPECT_FALSE(clock.page_valid());
    EXPECT_EQ(clock.time_at(1), kReferenceHz);
}

} // namespace
} // namespace halcyon::vmm::hyperv
