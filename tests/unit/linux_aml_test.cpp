// The AML encoder (vmm/worker/linux/aml.hpp): byte-exact encodings from the ACPI 6.5 grammar
// (chapter 20), and a round trip through the core's own \_S5 finder (vmm/acpi/aml_s5.cpp).
#include "vmm/acpi/parsers.hpp"
#include "vmm/worker/linux/aml.hpp"

#include <array>
#include <gtest/gtest.h>
#include <vector>

namespace halcyon::worker::linux_boot {
namespace {

std::vector<uint8_t> package_length(size_t body) {
    std::array<uint8_t, 4> out{};
    auto bytes = encode_package_length(body, out);
    if (bytes.is_error())
        return {};
    return {out.begin(), out.begin() + bytes.value()};
}

TEST(LinuxAml, PackageLengthUsesTheShortestFormAndCountsItself) {
    using Bytes = std::vector<uint8_t>;
    EXPECT_EQ(package_length(0), Bytes({0x01}));
    EXPECT_EQ(package_length(62), Bytes({0x3F})); // 62 + 1 = 63, the largest 1-byte length
    // 63 + 2 = 65 = 0x041: lead 0x40 | low nibble 1, then 0x04.
    EXPECT_EQ(package_length(63), Bytes({0x41, 0x04}));
    EXPECT_EQ(package_length(0xFFD), Bytes({0x4F, 0xFF}));       // 0xFFF, the largest 2-byte length
    EXPECT_EQ(package_length(0xFFE), Bytes({0x81, 0x00, 0x01})); // 0x1001 in three bytes
    EXPECT_EQ(package_length(0xFFFFC), Bytes({0x8F, 0xFF, 0xFF}));
    EXPECT_EQ(package_length(0xFFFFD), Bytes({0xC1, 0x00, 0x00, 0x01}));
    EXPECT_EQ(package_length(0xFFFFFFB), Bytes({0xCF, 0xFF, 0xFF, 0xFF}));
    std::array<uint8_t, 4> out{};
    EXPECT_TRUE(encode_package_length(0xFFFFFFC, out).is_error());
}

TEST(LinuxAml, IntegersUseTheShortestEncoding) {
    struct Case {
        uint64_t value;
        std::vector<uint8_t> bytes;
    };
    const Case cases[] = {
        {0, {0x00}},
        {1, {0x01}},
        {~0ull, {0xFF}},
        {2, {0x0A, 0x02}},
        {0xFF, {0x0A, 0xFF}},
        {0x100, {0x0B, 0x00, 0x01}},
        {0x12345678, {0x0C, 0x78, 0x56, 0x34, 0x12}},
        {0x1'0000'0000, {0x0E, 0, 0, 0, 0, 1, 0, 0, 0}},
    };
    for (const Case& c : cases) {
        uint8_t buffer[16];
        AmlWriter aml(buffer);
        ASSERT_FALSE(aml.integer(c.value).is_error());
        EXPECT_EQ(std::vector<uint8_t>(aml.bytes().begin(), aml.bytes().end()), c.bytes) << c.value;
        EXPECT_EQ(integer_size(c.value), c.bytes.size());
    }
}

TEST(LinuxAml, S5PackageMatchesTheAslCompilerEncoding) {
    // iasl compiles `Name (_S5, Package () { 5, 5, 0, 0 })` at the root to these bytes.
    const std::vector<uint8_t> expected = {0x08, '_',  'S',  '5',  '_',  0x12, 0x08,
                                           0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00};
    uint8_t buffer[32];
    AmlWriter aml(buffer);
    ASSERT_FALSE(aml.name_package("_S5", {5, 5, 0, 0}).is_error());
    EXPECT_EQ(std::vector<uint8_t>(aml.bytes().begin(), aml.bytes().end()), expected);

    auto sleep_type = acpi::find_s5_sleep_type(aml.bytes());
    ASSERT_FALSE(sleep_type.is_error());
    EXPECT_EQ(sleep_type.value().a, 5);
    EXPECT_EQ(sleep_type.value().b, 5);
}

TEST(LinuxAml, LongPackagesRoundTripThroughTheCoreParser) {
    // 40 two-byte elements: the package body needs a 2-byte PkgLength.
    std::vector<uint64_t> values(40, 0x42);
    values[0] = 3;
    values[1] = 4;
    uint8_t buffer[128];
    AmlWriter aml(buffer);
    ASSERT_FALSE(aml.name_package("_S5_", values).is_error());
    EXPECT_EQ(aml.size(), 1 + 4 + 1 + 2 + 1 + 40 * 2u);
    EXPECT_EQ(aml.bytes()[6] >> 6, 1); // two PkgLength bytes
    auto sleep_type = acpi::find_s5_sleep_type(aml.bytes());
    ASSERT_FALSE(sleep_type.is_error());
    EXPECT_EQ(sleep_type.value().a, 3);
    EXPECT_EQ(sleep_type.value().b, 4);
}

TEST(LinuxAml, NamesAreValidatedAndPadded) {
    uint8_t buffer[32];
    AmlWriter aml(buffer);
    ASSERT_FALSE(aml.name_package("A", {1}).is_error());
    EXPECT_EQ(std::vector<uint8_t>(aml.bytes().begin(), aml.bytes().begin() + 5),
              std::vector<uint8_t>({0x08, 'A', '_', '_', '_'}));
    for (const char* bad : {"", "5S", "_s5", "ABCDE", "A-B"}) {
        AmlWriter rejected(buffer);
        EXPECT_TRUE(rejected.name_package(bad, {1}).is_error()) << bad;
        EXPECT_EQ(rejected.size(), 0u) << bad;
    }
}

TEST(LinuxAml, OverflowFailsWithoutPartialTerms) {
    uint8_t buffer[10];
    AmlWriter aml(buffer);
    ASSERT_FALSE(aml.integer(7).is_error()); // 2 bytes
    EXPECT_EQ(aml.name_package("_S5", {5, 5, 0, 0}).error().code(), ErrorCode::out_of_memory);
    EXPECT_EQ(aml.size(), 2u);
    std::vector<uint64_t> too_many(256, 0);
    uint8_t big[1024];
    AmlWriter wide(big);
    EXPECT_EQ(wide.package(too_many).error().code(), ErrorCode::out_of_range);
}

} // namespace
} // namespace halcyon::worker::linux_boot
