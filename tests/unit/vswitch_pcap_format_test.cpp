// pcap reading and writing: round trip, both byte orders and timestamp resolutions, and damaged
// files (short header, bad magic, truncated record header/body, oversized record) reported as
// errors without reading past the end.
#include "vswitch/pcap/pcap.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace halcyon::vswitch::pcap;
using halcyon::ErrorCode;

std::vector<uint8_t> two_record_file() {
    std::vector<uint8_t> buffer(1024);
    Writer writer(buffer);
    const uint8_t a[] = {1, 2, 3, 4, 5};
    const uint8_t b[] = {9, 8, 7};
    EXPECT_FALSE(writer.append(1'500'000'123, a).is_error());
    EXPECT_FALSE(writer.append(2'000'000'000, b).is_error());
    auto written = writer.written();
    return {written.begin(), written.end()};
}

TEST(VswitchPcap, WriterOutputReadsBack) {
    const auto file = two_record_file();
    ASSERT_EQ(file.size(), kFileHeaderSize + 2 * kRecordHeaderSize + 5 + 3);
    // Little-endian nanosecond magic, version 2.4, Ethernet.
    EXPECT_EQ(file[0], 0x4D);
    EXPECT_EQ(file[1], 0x3C);
    EXPECT_EQ(file[2], 0xB2);
    EXPECT_EQ(file[3], 0xA1);
    auto reader = Reader::open(file);
    ASSERT_FALSE(reader.is_error());
    EXPECT_TRUE(reader.value().header().nanoseconds);
    EXPECT_FALSE(reader.value().header().byte_swapped);
    Record record;
    auto next = reader.value().next(record);
    ASSERT_FALSE(next.is_error());
    ASSERT_TRUE(next.value());
    EXPECT_EQ(record.timestamp_ns, 1'500'000'123u);
    ASSERT_EQ(record.data.size(), 5u);
    EXPECT_EQ(record.data[4], 5);
    EXPECT_EQ(record.original_length, 5u);
    auto second = reader.value().next(record);
    ASSERT_TRUE(!second.is_error() && second.value());
    EXPECT_EQ(record.timestamp_ns, 2'000'000'000u);
    EXPECT_EQ(record.data[0], 9);
    auto end = reader.value().next(record);
    ASSERT_FALSE(end.is_error());
    EXPECT_FALSE(end.value());
    EXPECT_EQ(reader.value().records_read(), 2u);
}

TEST(VswitchPcap, ReadsBigEndianMicrosecondFiles) {
    // As written by tcpdump on a big-endian machine: magic a1b2c3d4 in big-endian order.
    std::vector<uint8_t> file = {0xA1, 0xB2, 0xC3, 0xD4, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                 0xFF, 0xFF, 0, 0, 0, 1,
                                 // record: 7 s, 250 us, 2 bytes of 60 on the wire
                                 0, 0, 0, 7, 0, 0, 0, 250, 0, 0, 0, 2, 0, 0, 0, 60, 0xAB, 0xCD};
    auto reader = Reader::open(file);
    ASSERT_FALSE(reader.is_error());
    EXPECT_TRUE(reader.value().header().byte_swapped);
    EXPECT_FALSE(reader.value().header().nanoseconds);
    EXPECT_EQ(reader.value().header().snap_length, 65535u);
    Record record;
    auto next = reader.value().next(record);
    ASSERT_TRUE(!next.is_error() && next.value());
    EXPECT_EQ(record.timestamp_ns, 7'000'250'000u);
    EXPECT_EQ(record.original_length, 60u);
    ASSERT_EQ(record.data.size(), 2u);
    EXPECT_EQ(record.data[1], 0xCD);
}

TEST(VswitchPcap, RejectsWhatIsNotAnEthernetPcap) {
    auto file = two_record_file();
    EXPECT_EQ(Reader::open(std::span(file).first(10)).error().code(), ErrorCode::corrupt);
    auto bad_magic = file;
    bad_magic[0] = 0x0A; // pcapng section header block starts 0a 0d 0d 0a
    EXPECT_EQ(Reader::open(bad_magic).error().code(), ErrorCode::corrupt);
    auto wrong_link = file;
    wrong_link[20] = 105; // 802.11
    EXPECT_EQ(Reader::open(wrong_link).error().code(), ErrorCode::not_supported);
    auto wrong_version = file;
    wrong_version[4] = 1;
    EXPECT_EQ(Reader::open(wrong_version).error().code(), ErrorCode::not_supported);
}

TEST(VswitchPcap, EveryTruncationIsReportedNotOverread) {
    const auto file = two_record_file();
    // Cut the file at every length past the header: the reader must return the complete records
    // and then either a clean end (cut exactly between records) or a corrupt error.
    for (size_t cut = kFileHeaderSize; cut < file.size(); ++cut) {
        std::vector<uint8_t> prefix(file.begin(), file.begin() + static_cast<long>(cut));
        auto reader = Reader::open(prefix);
        ASSERT_FALSE(reader.is_error());
        Record record;
        size_t complete = 0;
        bool error = false;
        for (;;) {
            auto next = reader.value().next(record);
            if (next.is_error()) {
                EXPECT_EQ(next.error().code(), ErrorCode::corrupt);
                error = true;
                break;
            }
            if (!next.value())
                break;
            ++complete;
        }
        const size_t first_end = kFileHeaderSize + kRecordHeaderSize + 5;
        const bool clean = cut == kFileHeaderSize || cut == first_end;
        EXPECT_EQ(error, !clean) << cut;
        EXPECT_EQ(complete, cut >= first_end ? 1u : 0u) << cut;
    }
}

TEST(VswitchPcap, OversizedRecordsAndBadTimestampsAreCorrupt) {
    auto file = two_record_file();
    auto oversized = file;
    oversized[kFileHeaderSize + 8] = 0xFF; // captured length 0x...FF > snaplen 262144
    oversized[kFileHeaderSize + 10] = 0xFF;
    auto reader = Reader::open(oversized);
    ASSERT_FALSE(reader.is_error());
    Record record;
    EXPECT_EQ(reader.value().next(record).error().code(), ErrorCode::corrupt);
    auto bad_fraction = file;
    bad_fraction[kFileHeaderSize + 7] = 0x7F; // ns fraction >= 1e9
    auto reader2 = Reader::open(bad_fraction);
    EXPECT_EQ(reader2.value().next(record).error().code(), ErrorCode::corrupt);
}

TEST(VswitchPcap, WriterRefusesWhatDoesNotFit) {
    std::vector<uint8_t> buffer(kFileHeaderSize + kRecordHeaderSize + 4);
    Writer writer(buffer);
    const uint8_t frame[5] = {};
    EXPECT_EQ(writer.append(0, frame).error().code(), ErrorCode::out_of_memory);
    EXPECT_EQ(writer.written().size(), 0u);
    EXPECT_FALSE(writer.append(0, std::span(frame).first(4)).is_error());
    EXPECT_EQ(writer.written().size(), buffer.size());
}

} // namespace
