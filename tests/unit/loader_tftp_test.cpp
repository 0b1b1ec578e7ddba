// The loader's own TFTP packets (size query over raw UDP for PXE firmware without
// GET_FILE_SIZE): request layout, abort packet, and parsing of every kind of server reply,
// including malformed ones.
#include "boot/uefi/tftp_packet.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using halcyon::ErrorCode;
namespace tftp = halcyon::loader::tftp;

namespace {

std::vector<uint8_t> bytes(const std::string& text) {
    return {text.begin(), text.end()};
}

} // namespace

TEST(LoaderTftp, BuildsSizeRequest) {
    uint8_t buffer[64];
    auto length = tftp::build_size_request("vms/vmlinuz", buffer);
    ASSERT_FALSE(length.is_error());
    std::string expected("\x00\x01vms/vmlinuz\0octet\0tsize\0"
                         "0\0",
                         28);
    ASSERT_EQ(length.value(), expected.size());
    EXPECT_EQ(std::string(reinterpret_cast<char*>(buffer), length.value()), expected);
}

TEST(LoaderTftp, RejectsRequestsThatDoNotFit) {
    uint8_t small[27]; // one byte short
    auto length = tftp::build_size_request("vms/vmlinuz", small);
    ASSERT_TRUE(length.is_error());
    EXPECT_EQ(length.error().code(), ErrorCode::out_of_range);
    uint8_t buffer[64];
    EXPECT_TRUE(tftp::build_size_request("", buffer).is_error());
}

TEST(LoaderTftp, BuildsAbort) {
    uint8_t buffer[32];
    size_t length = tftp::build_abort(buffer);
    ASSERT_GE(length, 5u);
    EXPECT_EQ(buffer[0], 0);
    EXPECT_EQ(buffer[1], tftp::kOpcodeError);
    EXPECT_EQ(buffer[2], 0);
    EXPECT_EQ(buffer[3], 8);
    EXPECT_EQ(buffer[length - 1], 0);
    uint8_t tiny[4];
    EXPECT_EQ(tftp::build_abort(tiny), 0u);
}

TEST(LoaderTftp, ParsesSizeFromOptionAck) {
    auto packet = bytes(std::string("\x00\x06"
                                    "blksize\0"
                                    "1468\0"
                                    "TSize\0"
                                    "5000000\0",
                                    30));
    auto reply = tftp::parse_size_reply(packet);
    ASSERT_FALSE(reply.is_error());
    EXPECT_EQ(reply.value().kind, tftp::SizeReply::Kind::size);
    EXPECT_EQ(reply.value().size, 5000000u);
}

TEST(LoaderTftp, ReportsServersThatIgnoreTheOption) {
    auto data = bytes(std::string("\x00\x03\x00\x01hello", 9));
    auto from_data = tftp::parse_size_reply(data);
    ASSERT_FALSE(from_data.is_error());
    EXPECT_EQ(from_data.value().kind, tftp::SizeReply::Kind::no_size);

    auto other_option = bytes(std::string("\x00\x06"
                                          "blksize\0"
                                          "512\0",
                                          14));
    auto from_oack = tftp::parse_size_reply(other_option);
    ASSERT_FALSE(from_oack.is_error());
    EXPECT_EQ(from_oack.value().kind, tftp::SizeReply::Kind::no_size);
}

TEST(LoaderTftp, ParsesServerErrors) {
    auto packet = bytes(std::string("\x00\x05\x00\x01"
                                    "File not found\0",
                                    19));
    auto reply = tftp::parse_size_reply(packet);
    ASSERT_FALSE(reply.is_error());
    EXPECT_EQ(reply.value().kind, tftp::SizeReply::Kind::error);
    EXPECT_EQ(reply.value().error_code, 1u);
}

TEST(LoaderTftp, RejectsMalformedReplies) {
    for (const std::string& text : {
             std::string("", 0), std::string("\x00", 1),
             std::string("\x00\x05\x00", 3),     // error without code
             std::string("\x00\x04\x00\x01", 4), // ACK: not a reply to RRQ
             std::string("\x00\x06tsize", 7),    // unterminated name
             std::string("\x00\x06tsize\0"
                         "12",
                         10),                     // unterminated value
             std::string("\x00\x06tsize\0\0", 9), // empty value
             std::string("\x00\x06tsize\0"
                         "12x\0",
                         12), // not a number
             std::string("\x00\x06tsize\0"
                         "99999999999999999999\0",
                         28), // too large
         }) {
        auto packet = bytes(text);
        // An exact-size copy, so ASan would catch any read past the end.
        auto reply = tftp::parse_size_reply(packet);
        EXPECT_TRUE(reply.is_error()) << "packet of " << text.size() << " bytes";
    }
}
