#include "vswitch/pcap/pcap.hpp"

namespace halcyon::vswitch::pcap {

namespace {

[[nodiscard]] uint32_t load_le32(const uint8_t* p) {
    return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

[[nodiscard]] uint32_t byte_swap32(uint32_t v) {
    return (v >> 24) | ((v >> 8) & 0xFF00) | ((v << 8) & 0xFF0000) | (v << 24);
}

void store_le16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v);
    p[1] = static_cast<uint8_t>(v >> 8);
}

void store_le32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        p[i] = static_cast<uint8_t>(v >> (8 * i));
}

} // namespace

uint32_t Reader::load32(const uint8_t* p) const {
    uint32_t v = load_le32(p);
    return header_.byte_swapped ? byte_swap32(v) : v;
}

ErrorOr<Reader> Reader::open(std::span<const uint8_t> file) {
    if (file.size() < kFileHeaderSize)
        return Error(ErrorCode::corrupt, "pcap file shorter than its 24-byte header");
    Reader reader;
    reader.file_ = file;
    const uint32_t magic = load_le32(file.data());
    if (magic == kMagicMicroseconds || magic == kMagicNanoseconds) {
        reader.header_.byte_swapped = false;
    } else if (byte_swap32(magic) == kMagicMicroseconds ||
               byte_swap32(magic) == kMagicNanoseconds) {
        reader.header_.byte_swapped = true;
    } else {
        return Error(ErrorCode::corrupt, "not a pcap file (bad magic; pcapng is not supported)");
    }
    reader.header_.nanoseconds = reader.load32(file.data()) == kMagicNanoseconds;
    // Versions are two 16-bit fields; read them in the file's order.
    const uint8_t* v = file.data() + 4;
    reader.header_.version_major = reader.header_.byte_swapped
                                       ? static_cast<uint16_t>(v[0] << 8 | v[1])
                                       : static_cast<uint16_t>(v[0] | v[1] << 8);
    reader.header_.version_minor = reader.header_.byte_swapped
                                       ? static_cast<uint16_t>(v[2] << 8 | v[3])
                                       : static_cast<uint16_t>(v[2] | v[3] << 8);
    reader.header_.snap_length = reader.load32(file.data() + 16);
    // The upper bits of the link-type field carry FCS information; the type is the low 16 bits.
    reader.header_.link_type = reader.load32(file.data() + 20) & 0xFFFF;
    if (reader.header_.version_major != 2)
        return Error(ErrorCode::not_supported, "pcap major version is not 2");
    if (reader.header_.link_type != kLinkTypeEthernet)
        return Error(ErrorCode::not_supported, "pcap link type is not Ethernet (1)");
    return reader;
}

ErrorOr<bool> Reader::next(Record& out) {
    if (offset_ == file_.size())
        return false;
    const uint64_t remaining = file_.size() - offset_;
    if (remaining < kRecordHeaderSize)
        return Error(ErrorCode::corrupt, "pcap record header truncated");
    const uint8_t* p = file_.data() + offset_;
    const uint64_t seconds = load32(p);
    const uint64_t fraction = load32(p + 4);
    const uint32_t captured = load32(p + 8);
    const uint32_t original = load32(p + 12);
    // A snaplen of 0 is written by some tools to mean "unlimited".
    const uint32_t limit = header_.snap_length != 0 && header_.snap_length < kMaxRecordLength
                               ? header_.snap_length
                               : kMaxRecordLength;
    if (captured > limit)
        return Error(ErrorCode::corrupt, "pcap record longer than the snapshot length");
    if (remaining - kRecordHeaderSize < captured)
        return Error(ErrorCode::corrupt, "pcap record data truncated");
    if (fraction >= (header_.nanoseconds ? 1'000'000'000u : 1'000'000u))
        return Error(ErrorCode::corrupt, "pcap record timestamp fraction out of range");
    out.timestamp_ns = seconds * 1'000'000'000 + (header_.nanoseconds ? fraction : fraction * 1000);
    out.original_length = original;
    out.data = file_.subspan(offset_ + kRecordHeaderSize, captured);
    out.file_offset = offset_;
    offset_ += kRecordHeaderSize + captured;
    ++records_;
    return true;
}

void write_file_header(std::span<uint8_t, kFileHeaderSize> out, uint32_t snap_length) {
    store_le32(out.data(), kMagicNanoseconds);
    store_le16(out.data() + 4, 2);
    store_le16(out.data() + 6, 4);
    store_le32(out.data() + 8, 0);  // thiszone
    store_le32(out.data() + 12, 0); // sigfigs
    store_le32(out.data() + 16, snap_length);
    store_le32(out.data() + 20, kLinkTypeEthernet);
}

void write_record_header(std::span<uint8_t, kRecordHeaderSize> out, uint64_t timestamp_ns,
                         uint32_t captured_length, uint32_t original_length) {
    store_le32(out.data(), static_cast<uint32_t>(timestamp_ns / 1'000'000'000));
    store_le32(out.data() + 4, static_cast<uint32_t>(timestamp_ns % 1'000'000'000));
    store_le32(out.data() + 8, captured_length);
    store_le32(out.data() + 12, original_length);
}

ErrorOr<void> Writer::append(uint64_t timestamp_ns, std::span<const uint8_t> frame) {
    if (frame.size() > kMaxRecordLength)
        return Error(ErrorCode::invalid_argument, "frame longer than a pcap record may be");
    const size_t header = used_ == 0 ? kFileHeaderSize : 0;
    const size_t needed = header + kRecordHeaderSize + frame.size();
    if (buffer_.size() - used_ < needed)
        return Error(ErrorCode::out_of_memory, "pcap buffer full");
    if (header != 0) {
        write_file_header(buffer_.subspan(0).first<kFileHeaderSize>(), kMaxRecordLength);
        used_ = kFileHeaderSize;
    }
    const uint32_t length = static_cast<uint32_t>(frame.size());
    write_record_header(buffer_.subspan(used_).first<kRecordHeaderSize>(), timestamp_ns, length,
                        length);
    used_ += kRecordHeaderSize;
    for (size_t i = 0; i < frame.size(); ++i)
        buffer_[used_ + i] = frame[i];
    used_ += frame.size();
    return {};
}

} // namespace halcyon::vswitch::pcap
