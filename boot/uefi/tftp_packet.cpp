#include "boot/uefi/tftp_packet.hpp"

namespace halcyon::loader::tftp {

namespace {

class PacketWriter {
public:
    explicit PacketWriter(std::span<uint8_t> out) : out_(out) {}
    void u16(uint16_t value) {
        byte(static_cast<uint8_t>(value >> 8));
        byte(static_cast<uint8_t>(value));
    }
    void string(const char* text) {
        for (; *text; ++text)
            byte(static_cast<uint8_t>(*text));
        byte(0);
    }
    [[nodiscard]] bool overflowed() const { return overflowed_; }
    [[nodiscard]] size_t length() const { return length_; }

private:
    void byte(uint8_t value) {
        if (length_ == out_.size()) {
            overflowed_ = true;
            return;
        }
        out_[length_++] = value;
    }
    std::span<uint8_t> out_;
    size_t length_ = 0;
    bool overflowed_ = false;
};

[[nodiscard]] uint16_t read_u16(std::span<const uint8_t> packet, size_t offset) {
    return static_cast<uint16_t>((packet[offset] << 8) | packet[offset + 1]);
}

[[nodiscard]] bool equals_ignoring_case(std::span<const uint8_t> text, const char* expected) {
    size_t i = 0;
    for (; i < text.size() && expected[i]; ++i) {
        uint8_t c = text[i];
        if (c >= 'A' && c <= 'Z')
            c = static_cast<uint8_t>(c - 'A' + 'a');
        if (c != static_cast<uint8_t>(expected[i]))
            return false;
    }
    return i == text.size() && expected[i] == '\0';
}

} // namespace

ErrorOr<size_t> build_size_request(const char* file_name, std::span<uint8_t> out) {
    if (file_name[0] == '\0')
        return Error(ErrorCode::invalid_argument, "empty TFTP file name");
    PacketWriter writer(out);
    writer.u16(kOpcodeReadRequest);
    writer.string(file_name);
    writer.string("octet");
    writer.string("tsize");
    writer.string("0");
    if (writer.overflowed())
        return Error(ErrorCode::out_of_range, "TFTP file name is too long");
    return writer.length();
}

size_t build_abort(std::span<uint8_t> out) {
    PacketWriter writer(out);
    writer.u16(kOpcodeError);
    writer.u16(8);
    writer.string("size query only");
    return writer.overflowed() ? 0 : writer.length();
}

ErrorOr<SizeReply> parse_size_reply(std::span<const uint8_t> packet) {
    if (packet.size() < 2)
        return Error(ErrorCode::corrupt, "TFTP packet too short");
    uint16_t opcode = read_u16(packet, 0);
    if (opcode == kOpcodeData)
        return SizeReply{.kind = SizeReply::Kind::no_size, .size = 0, .error_code = 0};
    if (opcode == kOpcodeError) {
        if (packet.size() < 4)
            return Error(ErrorCode::corrupt, "TFTP error packet too short");
        return SizeReply{
            .kind = SizeReply::Kind::error, .size = 0, .error_code = read_u16(packet, 2)};
    }
    if (opcode != kOpcodeOptionAck)
        return Error(ErrorCode::corrupt, "unexpected TFTP packet");

    // OACK: a sequence of NUL-terminated name, value pairs.
    size_t offset = 2;
    auto next_string = [&](std::span<const uint8_t>& text) {
        size_t start = offset;
        while (offset < packet.size() && packet[offset] != 0)
            ++offset;
        if (offset == packet.size())
            return false; // unterminated
        text = packet.subspan(start, offset - start);
        ++offset;
        return true;
    };
    while (offset < packet.size()) {
        std::span<const uint8_t> name, value;
        if (!next_string(name) || !next_string(value))
            return Error(ErrorCode::corrupt, "malformed TFTP option acknowledgement");
        if (!equals_ignoring_case(name, "tsize"))
            continue;
        if (value.empty() || value.size() > 19)
            return Error(ErrorCode::corrupt, "malformed TFTP tsize value");
        uint64_t size = 0;
        for (uint8_t c : value) {
            if (c < '0' || c > '9')
                return Error(ErrorCode::corrupt, "malformed TFTP tsize value");
            size = size * 10 + (c - '0');
        }
        return SizeReply{.kind = SizeReply::Kind::size, .size = size, .error_code = 0};
    }
    return SizeReply{.kind = SizeReply::Kind::no_size, .size = 0, .error_code = 0};
}

} // namespace halcyon::loader::tftp
