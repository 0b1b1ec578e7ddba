// The primitives of the wire format (message.hpp): a writer and a reader of little-endian
// integers, bools, bounded strings and byte blocks, and the message header. Both work on a span
// they never leave; both remember the first problem and turn every later operation into a no-op,
// so encoders and decoders read straight through and check once at the end.
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/api/fixed_string.hpp"
#include "mgmt/wire/message.hpp"

#include <optional>
#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::mgmt::wire {

class WireWriter {
public:
    WireWriter() = default;
    explicit WireWriter(std::span<uint8_t> buffer) : buffer_(buffer) {}

    void u8(uint8_t value);
    void u16(uint16_t value);
    void u32(uint32_t value);
    void u64(uint64_t value);
    void boolean(bool value) { u8(value ? 1 : 0); }
    // u16 length + bytes. `bound` is the reader's limit: a longer text fails the writer with
    // `too_long` (a caller's mistake, reported before anything is sent).
    void string(std::string_view text, size_t bound, const char* too_long);
    template <size_t N>
    void string(const FixedString<N>& text) {
        string(text.view(), N, "a string is longer than its bound");
    }
    // u32 length + bytes.
    void bytes(std::span<const uint8_t> data);
    // `length` bytes to fill later (the caller writes them); empty span on overflow.
    [[nodiscard]] std::span<uint8_t> reserve(size_t length);
    // Forgets everything after the first `length` bytes (which must have been written).
    void truncate(size_t length);

    [[nodiscard]] bool failed() const { return failure_ != nullptr; }
    [[nodiscard]] const char* failure() const { return failure_; }
    [[nodiscard]] size_t size() const { return position_; }
    [[nodiscard]] size_t room() const { return buffer_.size() - position_; }
    [[nodiscard]] std::span<uint8_t> buffer() const { return buffer_; }

private:
    void fail(const char* why);

    std::span<uint8_t> buffer_;
    size_t position_ = 0;
    const char* failure_ = nullptr;
};

class WireReader {
public:
    WireReader() = default;
    explicit WireReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

    [[nodiscard]] uint8_t u8();
    [[nodiscard]] uint16_t u16();
    [[nodiscard]] uint32_t u32();
    [[nodiscard]] uint64_t u64();
    // 0 or 1; anything else fails the reader.
    [[nodiscard]] bool boolean();
    // An enum stored in one byte, 0..last.
    template <typename E>
    [[nodiscard]] E enumeration(E last) {
        uint8_t value = u8();
        if (value > uint8_t(last)) {
            fail("malformed management message: an enumeration value out of range");
            return E{};
        }
        return E(value);
    }
    // A count (u32) of at most `bound`.
    [[nodiscard]] uint32_t count(uint32_t bound);
    // u16 length (<= bound) + bytes without NUL; the view points into the message.
    [[nodiscard]] std::string_view string(size_t bound);
    template <size_t N>
    void string(FixedString<N>& out) {
        std::string_view text = string(N);
        (void)out.assign(text); // cannot fail: the length was checked against N
    }
    // u32 length (<= bound) + bytes; points into the message.
    [[nodiscard]] std::span<const uint8_t> bytes(size_t bound);
    // A presence byte (bool) and, when present, the value read by `read`.
    template <typename T, typename Read>
    void optional(std::optional<T>& out, Read read) {
        out.reset();
        if (boolean())
            out = read(*this);
    }

    [[nodiscard]] bool failed() const { return failure_ != nullptr; }
    [[nodiscard]] const char* failure() const { return failure_; }
    [[nodiscard]] size_t remaining() const { return bytes_.size() - position_; }
    // Success when nothing failed and every byte was consumed (messages have an exact length).
    [[nodiscard]] ErrorOr<void> finish(ErrorCode code = ErrorCode::invalid_argument);
    void fail(const char* why);

private:
    [[nodiscard]] const uint8_t* take(size_t length);

    std::span<const uint8_t> bytes_;
    size_t position_ = 0;
    const char* failure_ = nullptr;
};

// Starts a message in `buffer`: the header with the payload length left open.
[[nodiscard]] WireWriter begin_message(std::span<uint8_t> buffer, uint16_t opcode,
                                       uint32_t sequence);
// Fills in the payload length; the message's total size, or the writer's failure.
[[nodiscard]] ErrorOr<size_t> end_message(WireWriter& writer, ErrorCode code);
// Checks magic, version and the exact length; `header` gets what could be read even on failure
// (so an error answer can echo opcode and sequence). The payload follows kHeaderSize.
[[nodiscard]] ErrorOr<void> parse_header(std::span<const uint8_t> message, MessageHeader& header);

} // namespace halcyon::mgmt::wire
