#include "mgmt/wire/codec.hpp"

#include <string.h>

namespace halcyon::mgmt::wire {

namespace {

uint64_t load_le(const uint8_t* bytes, size_t length) {
    uint64_t value = 0;
    for (size_t i = length; i > 0; --i)
        value = (value << 8) | bytes[i - 1];
    return value;
}

void store_le(uint8_t* bytes, uint64_t value, size_t length) {
    for (size_t i = 0; i < length; ++i, value >>= 8)
        bytes[i] = uint8_t(value);
}

constexpr const char* kTooSmall = "the message does not fit its buffer";

} // namespace

void WireWriter::fail(const char* why) {
    if (failure_ == nullptr)
        failure_ = why;
}

std::span<uint8_t> WireWriter::reserve(size_t length) {
    if (failed() || length > room()) {
        fail(kTooSmall);
        return {};
    }
    std::span<uint8_t> space = buffer_.subspan(position_, length);
    position_ += length;
    return space;
}

void WireWriter::truncate(size_t length) {
    if (length < position_)
        position_ = length;
}

void WireWriter::u8(uint8_t value) {
    if (std::span<uint8_t> space = reserve(1); !space.empty())
        space[0] = value;
}

void WireWriter::u16(uint16_t value) {
    if (std::span<uint8_t> space = reserve(2); !space.empty())
        store_le(space.data(), value, 2);
}

void WireWriter::u32(uint32_t value) {
    if (std::span<uint8_t> space = reserve(4); !space.empty())
        store_le(space.data(), value, 4);
}

void WireWriter::u64(uint64_t value) {
    if (std::span<uint8_t> space = reserve(8); !space.empty())
        store_le(space.data(), value, 8);
}

void WireWriter::string(std::string_view text, size_t bound, const char* too_long) {
    if (text.size() > bound || text.size() > 0xFFFF) {
        fail(too_long);
        return;
    }
    u16(uint16_t(text.size()));
    std::span<uint8_t> space = reserve(text.size());
    if (!space.empty())
        memcpy(space.data(), text.data(), text.size());
}

void WireWriter::bytes(std::span<const uint8_t> data) {
    if (data.size() > 0xFFFFFFFFu) {
        fail(kTooSmall);
        return;
    }
    u32(uint32_t(data.size()));
    std::span<uint8_t> space = reserve(data.size());
    if (!space.empty())
        memcpy(space.data(), data.data(), data.size());
}

void WireReader::fail(const char* why) {
    if (failure_ == nullptr)
        failure_ = why;
    position_ = bytes_.size(); // nothing more is read once a field was wrong
}

const uint8_t* WireReader::take(size_t length) {
    if (failed())
        return nullptr;
    if (length > remaining()) {
        fail("malformed management message: truncated");
        return nullptr;
    }
    const uint8_t* at = bytes_.data() + position_;
    position_ += length;
    return at;
}

uint8_t WireReader::u8() {
    const uint8_t* at = take(1);
    return at ? at[0] : 0;
}

uint16_t WireReader::u16() {
    const uint8_t* at = take(2);
    return at ? uint16_t(load_le(at, 2)) : 0;
}

uint32_t WireReader::u32() {
    const uint8_t* at = take(4);
    return at ? uint32_t(load_le(at, 4)) : 0;
}

uint64_t WireReader::u64() {
    const uint8_t* at = take(8);
    return at ? load_le(at, 8) : 0;
}

bool WireReader::boolean() {
    uint8_t value = u8();
    if (value > 1)
        fail("malformed management message: a bool is neither 0 nor 1");
    return value == 1;
}

uint32_t WireReader::count(uint32_t bound) {
    uint32_t value = u32();
    if (value > bound) {
        fail("malformed management message: a count exceeds its array");
        return 0;
    }
    return value;
}

std::string_view WireReader::string(size_t bound) {
    uint16_t length = u16();
    if (length > bound) {
        fail("malformed management message: a string is longer than its bound");
        return {};
    }
    const uint8_t* at = take(length);
    if (at == nullptr)
        return {};
    if (memchr(at, 0, length) != nullptr) {
        fail("malformed management message: a string contains NUL");
        return {};
    }
    return std::string_view(reinterpret_cast<const char*>(at), length);
}

std::span<const uint8_t> WireReader::bytes(size_t bound) {
    uint32_t length = u32();
    if (length > bound) {
        fail("malformed management message: a data block is longer than its bound");
        return {};
    }
    const uint8_t* at = take(length);
    return at ? std::span<const uint8_t>(at, length) : std::span<const uint8_t>();
}

ErrorOr<void> WireReader::finish(ErrorCode code) {
    if (!failed() && remaining() != 0)
        fail("malformed management message: bytes after the last field");
    if (failed())
        return Error(code, failure_);
    return {};
}

WireWriter begin_message(std::span<uint8_t> buffer, uint16_t opcode, uint32_t sequence) {
    WireWriter writer(buffer);
    writer.u32(kWireMagic);
    writer.u16(kWireVersion);
    writer.u16(opcode);
    writer.u32(sequence);
    writer.u32(0); // payload length, filled in by end_message
    return writer;
}

ErrorOr<size_t> end_message(WireWriter& writer, ErrorCode code) {
    if (writer.failed())
        return Error(code, writer.failure());
    store_le(writer.buffer().data() + 12, writer.size() - kHeaderSize, 4);
    return writer.size();
}

ErrorOr<void> parse_header(std::span<const uint8_t> message, MessageHeader& header) {
    WireReader reader(message.first(message.size() < kHeaderSize ? message.size() : kHeaderSize));
    uint32_t magic = reader.u32();
    uint16_t version = reader.u16();
    header.opcode = reader.u16();
    header.sequence = reader.u32();
    header.payload_length = reader.u32();
    if (message.size() < kHeaderSize)
        return Error(ErrorCode::invalid_argument,
                     "malformed management message: shorter than its header");
    if (magic != kWireMagic)
        return Error(ErrorCode::invalid_argument, "malformed management message: bad magic");
    if (version != kWireVersion)
        return Error(ErrorCode::not_supported,
                     "management message of an unknown version (core and partition differ)");
    if (message.size() > kManagementMessageMax)
        return Error(ErrorCode::invalid_argument,
                     "malformed management message: longer than kManagementMessageMax");
    if (header.payload_length != message.size() - kHeaderSize)
        return Error(ErrorCode::invalid_argument,
                     "malformed management message: the payload length does not match");
    return {};
}

} // namespace halcyon::mgmt::wire
