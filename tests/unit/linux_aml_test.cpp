// The AML encoder (vmm/worker/linux/aml.hpp): byte-exact encodings from the ACPI 6.5 grammar
// (chapter 20) - several checked against what iasl compiles the same ASL to - and a round trip
// through the core's own \_S5 finder (vmm/acpi/aml_s5.cpp).
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

std::vector<uint8_t> bytes_of(const AmlWriter& aml) {
    return {aml.bytes().begin(), aml.bytes().end()};
}

TEST(LinuxAml, NamedIntegersStringsAndBuffers) {
    uint8_t buffer[64];
    AmlWriter aml(buffer);
    ASSERT_FALSE(aml.name_integer("_UID", 0).is_error());
    ASSERT_FALSE(aml.name_integer("X", 0x1234).is_error());
    EXPECT_EQ(bytes_of(aml), std::vector<uint8_t>({0x08, '_', 'U', 'I', 'D', 0x00, //
                                                   0x08, 'X', '_', '_', '_', 0x0B, 0x34, 0x12}));
    AmlWriter text(buffer);
    ASSERT_FALSE(text.name_string("_HID", "VMBus").is_error());
    EXPECT_EQ(bytes_of(text), std::vector<uint8_t>(
                                  {0x08, '_', 'H', 'I', 'D', 0x0D, 'V', 'M', 'B', 'u', 's', 0x00}));
    AmlWriter empty_text(buffer);
    ASSERT_FALSE(empty_text.name_string("S", "").is_error());
    EXPECT_EQ(bytes_of(empty_text), std::vector<uint8_t>({0x08, 'S', '_', '_', '_', 0x0D, 0x00}));
    // Buffer (0x02) { 0x79, 0x00 }: BufferOp, PkgLength 5, BufferSize 0x0A 0x02, the bytes.
    AmlWriter crs(buffer);
    ASSERT_FALSE(crs.name_buffer("_CRS", aml::kEmptyResourceTemplate).is_error());
    EXPECT_EQ(bytes_of(crs),
              std::vector<uint8_t>({0x08, '_', 'C', 'R', 'S', 0x11, 0x05, 0x0A, 0x02, 0x79, 0x00}));
}

TEST(LinuxAml, StringsMustBePrintableAscii) {
    uint8_t buffer[64];
    for (const char* bad : {"tab\there", "new\nline", "\x7f", "\xc3\xa9"}) {
        AmlWriter aml(buffer);
        EXPECT_EQ(aml.name_string("_DDN", bad).error().code(), ErrorCode::invalid_argument) << bad;
        EXPECT_EQ(aml.size(), 0u);
    }
    AmlWriter aml(buffer);
    EXPECT_TRUE(aml.name_string("_DDN", nullptr).is_error());
}

TEST(LinuxAml, VmbusDeviceMatchesTheAslCompilerEncoding) {
    // iasl 20200925 compiles this ASL (inside a DSDT DefinitionBlock) to exactly these bytes:
    //   Scope (\_SB) {
    //       Device (VMBS) {
    //           Name (_HID, "VMBus")  Name (_UID, Zero)  Name (_DDN, "VMBUS")
    //           Method (_STA, 0, NotSerialized) { Return (0x0F) }
    //           Name (_CRS, ResourceTemplate () {})
    //       }
    //   }
    // (iasl writes \_SB as _SB_ at the root; the body is 62 bytes, the most a 1-byte PkgLength
    // holds.)
    const std::vector<uint8_t> expected = {
        0x10, 0x3f, 0x5f, 0x53, 0x42, 0x5f, 0x5b, 0x82, 0x38, 0x56, 0x4d, 0x42, 0x53,
        0x08, 0x5f, 0x48, 0x49, 0x44, 0x0d, 0x56, 0x4d, 0x42, 0x75, 0x73, 0x00, 0x08,
        0x5f, 0x55, 0x49, 0x44, 0x00, 0x08, 0x5f, 0x44, 0x44, 0x4e, 0x0d, 0x56, 0x4d,
        0x42, 0x55, 0x53, 0x00, 0x14, 0x09, 0x5f, 0x53, 0x54, 0x41, 0x00, 0xa4, 0x0a,
        0x0f, 0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x05, 0x0a, 0x02, 0x79, 0x00};
    uint8_t buffer[128];
    AmlWriter aml(buffer);
    ASSERT_FALSE(aml.open_scope("_SB").is_error());
    ASSERT_FALSE(aml.open_device("VMBS").is_error());
    ASSERT_FALSE(aml.name_string("_HID", "VMBus").is_error());
    ASSERT_FALSE(aml.name_integer("_UID", 0).is_error());
    ASSERT_FALSE(aml.name_string("_DDN", "VMBUS").is_error());
    ASSERT_FALSE(aml.open_method("_STA", 0).is_error());
    ASSERT_FALSE(aml.return_integer(0x0F).is_error());
    ASSERT_FALSE(aml.close().is_error());
    EXPECT_FALSE(aml.complete());
    ASSERT_FALSE(aml.name_buffer("_CRS", aml::kEmptyResourceTemplate).is_error());
    ASSERT_FALSE(aml.close().is_error());
    ASSERT_FALSE(aml.close().is_error());
    EXPECT_TRUE(aml.complete());
    EXPECT_EQ(bytes_of(aml), expected);
}

TEST(LinuxAml, RootScopeAndMethodFlags) {
    uint8_t buffer[32];
    AmlWriter aml(buffer);
    ASSERT_FALSE(aml.open_scope("\\_SB").is_error());
    ASSERT_FALSE(aml.open_method("M", 3, true).is_error());
    ASSERT_FALSE(aml.close().is_error());
    ASSERT_FALSE(aml.close().is_error());
    // Scope: 0x10, PkgLength 13 (itself, '\', 4 name bytes, the 7-byte method).
    // Method: 0x14, PkgLength 6 (itself, 4 name bytes, flags 3 args | Serialized).
    EXPECT_EQ(bytes_of(aml), std::vector<uint8_t>({0x10, 0x0D, '\\', '_', 'S', 'B', '_', 0x14, 0x06,
                                                   'M', '_', '_', '_', 0x0B}));
    AmlWriter bad(buffer);
    EXPECT_EQ(bad.open_method("M", 8).error().code(), ErrorCode::invalid_argument);
    EXPECT_TRUE(bad.open_scope("\\").is_error());
    EXPECT_TRUE(bad.open_scope("\\\\_SB").is_error());
    EXPECT_TRUE(bad.open_device("vmbs").is_error());
    EXPECT_EQ(bad.size(), 0u);
    EXPECT_TRUE(bad.complete());
}

TEST(LinuxAml, LongBodiesGetAWiderPackageLength) {
    // A device whose body is 4 + 12 * 6 = 76 bytes: more than a 1-byte PkgLength holds, so
    // close() moves the body up by one byte for a 2-byte PkgLength (76 + 2 = 78 = 0x4E).
    uint8_t buffer[128];
    AmlWriter aml(buffer);
    ASSERT_FALSE(aml.open_device("DEV").is_error());
    const char* names[] = {"A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L"};
    for (const char* name : names)
        ASSERT_FALSE(aml.name_integer(name, 0).is_error());
    ASSERT_FALSE(aml.close().is_error());
    ASSERT_EQ(aml.size(), 2 + 2 + 76u);
    EXPECT_EQ(aml.bytes()[0], 0x5B);
    EXPECT_EQ(aml.bytes()[1], 0x82);
    EXPECT_EQ(aml.bytes()[2], 0x40 | (78 & 0x0F));
    EXPECT_EQ(aml.bytes()[3], 78 >> 4);
    EXPECT_EQ(aml.bytes()[4], 'D');
    EXPECT_EQ(aml.bytes()[8], 0x08);
    EXPECT_EQ(aml.bytes()[9], 'A');
    EXPECT_EQ(aml.bytes()[aml.size() - 5], 'L');
}

TEST(LinuxAml, CloseThatCannotWidenDropsTheWholeTerm) {
    // One integer byte, 2 + 1 + 4 bytes opened, 11 names of 6 bytes: all 74 bytes used; the body
    // (70 bytes) needs a 2-byte PkgLength, for which there is no room.
    uint8_t buffer[74];
    AmlWriter aml(buffer);
    ASSERT_FALSE(aml.integer(0).is_error());
    ASSERT_FALSE(aml.open_device("DEV").is_error());
    for (int i = 0; i < 11; ++i)
        ASSERT_FALSE(aml.name_integer("N", 0).is_error());
    ASSERT_EQ(aml.size(), 74u);
    EXPECT_EQ(aml.close().error().code(), ErrorCode::out_of_memory);
    EXPECT_EQ(aml.size(), 1u);
    EXPECT_TRUE(aml.complete());
}

TEST(LinuxAml, UnbalancedAndTooDeepNesting) {
    uint8_t buffer[256];
    AmlWriter aml(buffer);
    EXPECT_EQ(aml.close().error().code(), ErrorCode::invalid_argument);
    for (size_t i = 0; i < aml::kMaxNesting; ++i)
        ASSERT_FALSE(aml.open_scope("S").is_error());
    EXPECT_EQ(aml.open_scope("S").error().code(), ErrorCode::out_of_range);
    for (size_t i = 0; i < aml::kMaxNesting; ++i)
        ASSERT_FALSE(aml.close().is_error());
    EXPECT_TRUE(aml.complete());
    EXPECT_EQ(aml.size(), aml::kMaxNesting * 6);
}

} // namespace
} // namespace halcyon::worker::linux_boot
