// Finding and validating the ACPI RSDP in BIOS memory: ACPI 1.0 and 2.0+ forms, checksums,
// 16-byte alignment, and structures cut off by the end of the searched area.
#include "boot/multiboot2/rsdp.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace mb2 = halcyon::multiboot2;

namespace {

std::vector<uint8_t> make_rsdp(uint8_t revision) {
    std::vector<uint8_t> rsdp(revision >= 2 ? 36 : 20, 0);
    std::memcpy(rsdp.data(), "RSD PTR ", 8);
    std::memcpy(rsdp.data() + 9, "BOCHS ", 6);
    rsdp[15] = revision;
    uint32_t rsdt = 0x1FFE1234;
    std::memcpy(rsdp.data() + 16, &rsdt, 4);
    uint8_t sum = 0;
    for (size_t i = 0; i < 20; ++i)
        sum = static_cast<uint8_t>(sum + rsdp[i]);
    rsdp[8] = static_cast<uint8_t>(-sum);
    if (revision >= 2) {
        uint32_t length = 36;
        std::memcpy(rsdp.data() + 20, &length, 4);
        uint64_t xsdt = 0x1FFE2000;
        std::memcpy(rsdp.data() + 24, &xsdt, 8);
        sum = 0;
        for (size_t i = 0; i < 36; ++i)
            sum = static_cast<uint8_t>(sum + rsdp[i]);
        rsdp[32] = static_cast<uint8_t>(-sum);
    }
    return rsdp;
}

TEST(Multiboot2Rsdp, ValidatesBothRevisions) {
    auto v1 = make_rsdp(0);
    auto v2 = make_rsdp(2);
    EXPECT_EQ(mb2::rsdp_size(v1), 20u);
    EXPECT_EQ(mb2::rsdp_size(v2), 36u);
    EXPECT_TRUE(mb2::is_valid_rsdp(v1));

    auto bad_signature = v1;
    bad_signature[0] = 'X';
    EXPECT_FALSE(mb2::is_valid_rsdp(bad_signature));
    auto bad_checksum = v1;
    bad_checksum[10] ^= 1;
    EXPECT_FALSE(mb2::is_valid_rsdp(bad_checksum));
    auto bad_extended = v2;
    bad_extended[30] ^= 1; // inside the extended part only
    EXPECT_FALSE(mb2::is_valid_rsdp(bad_extended));
    auto short_length = v2;
    short_length[20] = 20;
    EXPECT_FALSE(mb2::is_valid_rsdp(short_length));
    // A revision 2 structure cut short, and a length beyond the bytes given.
    EXPECT_FALSE(mb2::is_valid_rsdp(std::span(v2).first(30)));
    auto long_length = v2;
    long_length[20] = 200;
    EXPECT_FALSE(mb2::is_valid_rsdp(long_length));
    EXPECT_FALSE(mb2::is_valid_rsdp(std::span(v1).first(19)));
}

TEST(Multiboot2Rsdp, FindsTheFirstValidOneOnA16ByteBoundary) {
    std::vector<uint8_t> area(0x2000, 0);
    auto v2 = make_rsdp(2);
    // A copy off the 16-byte grid and a corrupt one earlier: both skipped.
    std::memcpy(area.data() + 0x108, v2.data(), v2.size());
    auto corrupt = v2;
    corrupt[8] ^= 0xFF;
    std::memcpy(area.data() + 0x400, corrupt.data(), corrupt.size());
    std::memcpy(area.data() + 0x1A50, v2.data(), v2.size());
    auto found = mb2::find_rsdp(area);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(*found, 0x1A50u);
}

TEST(Multiboot2Rsdp, NothingInAnEmptyAreaOrAtItsVeryEnd) {
    std::vector<uint8_t> area(0x1000, 0);
    EXPECT_FALSE(mb2::find_rsdp(area).has_value());
    EXPECT_FALSE(mb2::find_rsdp({}).has_value());
    // A revision 2 RSDP whose extended part would run past the area's end is not valid.
    auto v2 = make_rsdp(2);
    std::memcpy(area.data() + 0xFF0, v2.data(), 16);
    EXPECT_FALSE(mb2::find_rsdp(area).has_value());
    auto v1 = make_rsdp(0);
    std::memcpy(area.data() + 0xFE0, v1.data(), v1.size());
    auto found = mb2::find_rsdp(area);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(*found, 0xFE0u);
}

} // namespace
