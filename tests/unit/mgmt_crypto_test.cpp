// SHA-256 against the FIPS 180-4 examples (NIST CSRC "SHA256.pdf" and the long-message vectors)
// and HMAC-SHA256 against RFC 4231's test cases 1-7, plus the hex helpers and incremental
// hashing split at every byte.
#include "mgmt/api/hex.hpp"
#include "mgmt/api/hmac_sha256.hpp"
#include "mgmt/api/sha256.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace halcyon::mgmt;

std::string hex(std::span<const uint8_t> bytes) {
    std::string out(bytes.size() * 2, '\0');
    (void)hex_encode(bytes, std::span(out.data(), out.size()));
    return out;
}

std::vector<uint8_t> bytes_of(std::string_view text) {
    return std::vector<uint8_t>(text.begin(), text.end());
}

TEST(MgmtSha256, NistShortMessages) {
    EXPECT_EQ(hex(Sha256::hash("abc")),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(hex(Sha256::hash("")),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    // 448 bits: the padding needs a second block.
    EXPECT_EQ(hex(Sha256::hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(hex(Sha256::hash("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                               "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")),
              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(MgmtSha256, OneMillionA) {
    Sha256 sha;
    std::string chunk(1000, 'a');
    for (int i = 0; i < 1000; ++i)
        sha.update(chunk);
    EXPECT_EQ(hex(sha.finish()),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(MgmtSha256, IncrementalEqualsOneShotAtEverySplit) {
    std::string message;
    for (int i = 0; i < 200; ++i)
        message += char('A' + i % 26);
    Sha256Digest whole = Sha256::hash(message);
    for (size_t split = 0; split <= message.size(); ++split) {
        Sha256 sha;
        sha.update(std::string_view(message).substr(0, split));
        sha.update(std::string_view(message).substr(split));
        ASSERT_EQ(sha.finish(), whole) << "split at " << split;
    }
    // Every length around the block and padding boundaries, byte by byte.
    for (size_t length : {55u, 56u, 57u, 63u, 64u, 65u, 119u, 120u, 128u}) {
        Sha256 one_at_a_time;
        for (size_t i = 0; i < length; ++i)
            one_at_a_time.update(std::string_view(message).substr(i, 1));
        EXPECT_EQ(one_at_a_time.finish(),
                  Sha256::hash(std::string_view(message).substr(0, length)));
    }
}

TEST(MgmtSha256, FinishResetsForTheNextMessage) {
    Sha256 sha;
    sha.update("something else");
    (void)sha.finish();
    sha.update("abc");
    EXPECT_EQ(hex(sha.finish()),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

struct HmacCase {
    std::vector<uint8_t> key;
    std::vector<uint8_t> data;
    const char* expected;
    size_t truncate = 32;
};

TEST(MgmtHmacSha256, Rfc4231TestCases) {
    const HmacCase cases[] = {
        {std::vector<uint8_t>(20, 0x0b), bytes_of("Hi There"),
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {bytes_of("Jefe"), bytes_of("what do ya want for nothing?"),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {std::vector<uint8_t>(20, 0xaa), std::vector<uint8_t>(50, 0xdd),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {{1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13,
          14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25},
         std::vector<uint8_t>(50, 0xcd),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        // Test case 5 specifies only the first 128 bits.
        {std::vector<uint8_t>(20, 0x0c), bytes_of("Test With Truncation"),
         "a3b6167473100ee06e0c796c2955552b", 16},
        // Keys longer than a block are hashed first.
        {std::vector<uint8_t>(131, 0xaa),
         bytes_of("Test Using Larger Than Block-Size Key - Hash Key First"),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {std::vector<uint8_t>(131, 0xaa),
         bytes_of("This is a test using a larger than block-size key and a larger than "
                  "block-size data. The key needs to be hashed before being used by the HMAC "
                  "algorithm."),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
    int number = 1;
    for (const HmacCase& test : cases) {
        Sha256Digest mac = HmacSha256::mac(test.key, test.data);
        EXPECT_EQ(hex(std::span(mac.data(), test.truncate)), test.expected)
            << "RFC 4231 test case " << number;
        // Incrementally, and reused after finish().
        HmacSha256 incremental(test.key);
        for (int round = 0; round < 2; ++round) {
            for (uint8_t byte : test.data)
                incremental.update(std::span(&byte, 1));
            Sha256Digest again = incremental.finish();
            EXPECT_EQ(again, mac) << "test case " << number << " round " << round;
        }
        ++number;
    }
}

TEST(MgmtHmacSha256, ConstantTimeEqual) {
    uint8_t a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4}, c[4] = {1, 2, 3, 5};
    EXPECT_TRUE(constant_time_equal(a, b));
    EXPECT_FALSE(constant_time_equal(a, c));
    EXPECT_FALSE(constant_time_equal(std::span(a, 3), b));
}

TEST(MgmtHex, EncodeAndDecode) {
    uint8_t bytes[3] = {0x00, 0xAB, 0x7f};
    char text[6];
    EXPECT_EQ(hex_encode(bytes, text), "00ab7f");
    uint8_t back[3];
    EXPECT_TRUE(hex_decode("00AB7f", back));
    EXPECT_EQ(std::vector<uint8_t>(back, back + 3), std::vector<uint8_t>(bytes, bytes + 3));
    EXPECT_FALSE(hex_decode("00ab7", back));    // odd length
    EXPECT_FALSE(hex_decode("00ab7g", back));   // not a digit
    EXPECT_FALSE(hex_decode("00ab7f00", back)); // too long for the output
    EXPECT_EQ(hex_digit_value('F'), 15);
    EXPECT_EQ(hex_digit_value('x'), -1);
}

} // namespace
