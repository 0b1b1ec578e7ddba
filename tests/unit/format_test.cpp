// lib/format against the C library's snprintf: every conversion the core uses, with flags,
// widths, precisions and length modifiers, plus the truncation contract.
#include "lib/format/format.hpp"

#include <gtest/gtest.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string>

namespace {

using halcyon::format::format;

template <typename... Args>
void expect_like_snprintf(const char* fmt, Args... args) {
    char expected[256];
    char actual[256];
    int expected_length = snprintf(expected, sizeof(expected), fmt, args...);
    size_t actual_length = format(actual, sizeof(actual), fmt, args...);
    EXPECT_STREQ(actual, expected) << "format: \"" << fmt << "\"";
    EXPECT_EQ(actual_length, static_cast<size_t>(expected_length)) << "format: \"" << fmt << "\"";
}

TEST(Format, PlainTextAndPercent) {
    // A trailing unused argument keeps every call variadic (the helper's format is not a literal).
    expect_like_snprintf("hello", 0);
    expect_like_snprintf("", 0);
    expect_like_snprintf("100%% sure", 0);
    expect_like_snprintf("%%%%", 0);
}

TEST(Format, SignedIntegers) {
    const int values[] = {0, 1, -1, 7, -42, 12345, INT_MAX, INT_MIN};
    const char* formats[] = {"%d",   "%i",    "%5d",     "%-5d|",  "%05d", "%+d",   "% d",
                             "%.3d", "%8.3d", "%-8.3d|", "%08.3d", "%.0d", "%+05d", "%1d"};
    for (const char* fmt : formats) {
        for (int value : values)
            expect_like_snprintf(fmt, value);
    }
}

TEST(Format, UnsignedAndHex) {
    const unsigned values[] = {0u, 1u, 9u, 10u, 0xABCDu, 0xDEADBEEFu, UINT_MAX};
    const char* formats[] = {"%u",     "%x",   "%X",     "%8x",  "%-8x|", "%08X", "%#x",  "%#X",
                             "%#010x", "%.6x", "%10.6X", "%.0x", "%#.0x", "%2u",  "%010u"};
    for (const char* fmt : formats) {
        for (unsigned value : values)
            expect_like_snprintf(fmt, value);
    }
}

TEST(Format, LengthModifiers) {
    expect_like_snprintf("%ld %li %lu %lx", -1234567890123L, LONG_MIN, ULONG_MAX,
                         0xFEDCBA9876543210UL);
    expect_like_snprintf("%lld %llu %llX", LLONG_MIN, ULLONG_MAX, 0x0123456789ABCDEFULL);
    expect_like_snprintf("%zu %zx %zd", static_cast<size_t>(SIZE_MAX), static_cast<size_t>(4096),
                         static_cast<size_t>(77));
    expect_like_snprintf("%016lx|%-20lu|%20ld", 0xFFFFFFFF80001234UL, 42UL, -42L);
    expect_like_snprintf("%hhd %hhu %hd %hu %hhx", 300, 300, 70000, 70000, 0x1FF);
}

TEST(Format, StringsAndCharacters) {
    expect_like_snprintf("%s", "text");
    expect_like_snprintf("[%10s]", "right");
    expect_like_snprintf("[%-10s]", "left");
    expect_like_snprintf("[%.3s]", "truncated");
    expect_like_snprintf("[%8.3s]", "truncated");
    expect_like_snprintf("[%-8.3s]", "truncated");
    expect_like_snprintf("[%.0s]", "gone");
    expect_like_snprintf("[%.10s]", "short");
    expect_like_snprintf("[%2s]", "longer than width");
    expect_like_snprintf("%c%c%c", 'a', 'b', 'c');
    expect_like_snprintf("[%3c][%-3c]", 'x', 'y');
    expect_like_snprintf("%s=%d (%s)", "answer", 42, "yes");
}

TEST(Format, StarWidthAndPrecision) {
    expect_like_snprintf("[%*d]", 6, 42);
    expect_like_snprintf("[%*d]", -6, 42);
    expect_like_snprintf("[%.*s]", 2, "abcdef");
    expect_like_snprintf("[%*.*s]", 5, 2, "abcdef");
    expect_like_snprintf("[%.*d]", -1, 7);
}

TEST(Format, MixedLogLine) {
    expect_like_snprintf("[%5llu.%06llu] cpu%u %s: %s", 12ULL, 345678ULL, 0u, "info", "message");
}

TEST(Format, PointerIsFixedWidthHex) {
    char buffer[64];
    format(buffer, sizeof(buffer), "%p", reinterpret_cast<void*>(0xFFFFFFFF80001234ULL));
    EXPECT_STREQ(buffer, "0xffffffff80001234");
    format(buffer, sizeof(buffer), "%p", static_cast<void*>(nullptr));
    EXPECT_STREQ(buffer, "0x0000000000000000");
    format(buffer, sizeof(buffer), "[%20p]", reinterpret_cast<void*>(0x1000));
    EXPECT_STREQ(buffer, "[  0x0000000000001000]");
}

TEST(Format, NullStringPrintsPlaceholder) {
    char buffer[32];
    format(buffer, sizeof(buffer), "%s", static_cast<const char*>(nullptr));
    EXPECT_STREQ(buffer, "(null)");
}

TEST(Format, TruncatesLikeSnprintf) {
    char actual[8];
    char expected[8];
    for (size_t size = 0; size <= sizeof(actual); ++size) {
        memset(actual, 'Z', sizeof(actual));
        memset(expected, 'Z', sizeof(expected));
        size_t actual_length = format(actual, size, "%s-%d", "abcdef", 12345);
        int expected_length = snprintf(expected, size, "%s-%d", "abcdef", 12345);
        EXPECT_EQ(actual_length, static_cast<size_t>(expected_length));
        EXPECT_EQ(std::string(actual, sizeof(actual)), std::string(expected, sizeof(expected)))
            << "size " << size;
    }
}

TEST(Format, UnknownConversionIsCopiedThrough) {
    char buffer[32];
    // Through a variable, so the compiler's own format checking does not reject the test input.
    const char* unknown = "a%qb";
    size_t length = format(buffer, sizeof(buffer), unknown, 0);
    EXPECT_STREQ(buffer, "a%qb");
    EXPECT_EQ(length, 4u);
    const char* trailing = "end%";
    length = format(buffer, sizeof(buffer), trailing, 0);
    EXPECT_STREQ(buffer, "end%");
}

} // namespace
