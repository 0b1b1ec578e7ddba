// The classic libpcap file format (tcpdump/Wireshark "pcap", not pcapng): a 24-byte file header
// followed by records of a 16-byte header and the captured bytes. Reading works on a byte span the
// caller loaded (no file I/O here), accepts both byte orders and both timestamp resolutions, and
// reports a truncated or oversized record as an error instead of reading past the end, because the
// captures we are fed were made by other tools and may be cut short. Writing fills caller buffers,
// always little-endian with nanosecond timestamps (magic 0xA1B23C4D), link type Ethernet.
#pragma once

#include "lib/base/error_or.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vswitch::pcap {

inline constexpr uint32_t kMagicMicroseconds = 0xA1B2C3D4;
inline constexpr uint32_t kMagicNanoseconds = 0xA1B23C4D;
inline constexpr uint32_t kLinkTypeEthernet = 1;
inline constexpr uint32_t kFileHeaderSize = 24;
inline constexpr uint32_t kRecordHeaderSize = 16;
// Largest record we accept whatever the file's snaplen says: Wireshark's own limit for Ethernet.
inline constexpr uint32_t kMaxRecordLength = 262144;
inline constexpr uint32_t kDefaultSnapLength = 65535;

struct FileHeader {
    bool byte_swapped = false; // written on a machine of the other endianness
    bool nanoseconds = false;  // timestamps' fraction is ns (else us)
    uint16_t version_major = 2;
    uint16_t version_minor = 4;
    uint32_t snap_length = kDefaultSnapLength;
    uint32_t link_type = kLinkTypeEthernet;
};

struct Record {
    uint64_t timestamp_ns = 0;
    uint32_t original_length = 0; // length on the wire (>= data.size() when the capture was cut)
    std::span<const uint8_t> data;
    uint64_t file_offset = 0; // where the record header starts, for error messages
};

class Reader {
public:
    // Checks the file header. Errors: corrupt (bad magic / short file), not_supported (a link type
    // other than Ethernet, or a major version other than 2).
    [[nodiscard]] static ErrorOr<Reader> open(std::span<const uint8_t> file);

    // The next record into `out`: true, or false at a clean end of file. Errors (corrupt) for a
    // record header or record body cut short, or a record longer than snaplen/kMaxRecordLength;
    // offset() then tells where the bad record starts.
    [[nodiscard]] ErrorOr<bool> next(Record& out);

    [[nodiscard]] const FileHeader& header() const { return header_; }
    [[nodiscard]] uint64_t offset() const { return offset_; }
    [[nodiscard]] uint64_t records_read() const { return records_; }

private:
    Reader() = default;
    [[nodiscard]] uint32_t load32(const uint8_t* p) const;

    std::span<const uint8_t> file_;
    FileHeader header_;
    uint64_t offset_ = kFileHeaderSize;
    uint64_t records_ = 0;
};

// Fills `out` (kFileHeaderSize bytes) with a little-endian, nanosecond, Ethernet file header.
void write_file_header(std::span<uint8_t, kFileHeaderSize> out,
                       uint32_t snap_length = kDefaultSnapLength);

// Fills `out` (kRecordHeaderSize bytes) with a record header for `captured_length` bytes.
void write_record_header(std::span<uint8_t, kRecordHeaderSize> out, uint64_t timestamp_ns,
                         uint32_t captured_length, uint32_t original_length);

// Appends whole records to a caller buffer (the file header first, on the first append).
class Writer {
public:
    explicit Writer(std::span<uint8_t> buffer) : buffer_(buffer) {}
    // out_of_memory (nothing written) if the record does not fit; invalid_argument if the frame
    // is longer than kMaxRecordLength.
    [[nodiscard]] ErrorOr<void> append(uint64_t timestamp_ns, std::span<const uint8_t> frame);
    [[nodiscard]] std::span<const uint8_t> written() const { return buffer_.first(used_); }

private:
    std::span<uint8_t> buffer_;
    size_t used_ = 0;
};

} // namespace halcyon::vswitch::pcap
