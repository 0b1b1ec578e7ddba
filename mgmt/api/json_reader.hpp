// A strict RFC 8259 JSON reader that never allocates: parse() validates the whole text and fills
// a caller-provided array of tokens (a flat DOM: each container token knows where its subtree
// ends), and JsonValue reads values out of it. Strings stay escaped in the text and are decoded
// on demand into a caller buffer or compared in place.
//
// Strict means: only the RFC 8259 grammar (no comments, trailing commas, single quotes, leading
// zeros, NaN, bare control characters), strings must be valid UTF-8 and escapes must form valid
// code points (a lone surrogate \uD800 is refused), duplicate member names are refused (RFC 8259
// leaves their meaning undefined, so two readers could disagree about a request), and nesting is
// limited.
#pragma once

#include "lib/base/error_or.hpp"

#include <optional>
#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::mgmt {

enum class JsonType : uint8_t { null, boolean, number, string, array, object };

struct JsonToken {
    JsonType type;
    bool has_escapes; // strings: contains a backslash (decode before comparing bytes)
    uint32_t start;   // offset in the text (strings: after the opening quote)
    uint32_t length;  // bytes in the text (strings: without the quotes)
    uint32_t end;     // index of the first token after this one's subtree
    uint32_t size;    // arrays: elements; objects: members (each member is a key then a value)
};

inline constexpr uint32_t kJsonMaxDepthLimit = 64;

struct JsonLimits {
    uint32_t max_depth = 16; // at most kJsonMaxDepthLimit
};

// Where parsing stopped and why, for error bodies ("invalid JSON at byte 17: ...").
struct JsonParseError {
    uint32_t offset = 0;
    const char* message = nullptr;
};

class JsonDocument;

class JsonValue {
public:
    JsonValue(const JsonDocument* document, uint32_t index) : document_(document), index_(index) {}

    [[nodiscard]] JsonType type() const;
    [[nodiscard]] bool is(JsonType type) const { return this->type() == type; }
    [[nodiscard]] uint32_t size() const;        // elements or members
    [[nodiscard]] std::string_view raw() const; // the value's text (strings: without quotes)

    // Objects: the value of member `key`, or nothing (also when this is not an object).
    [[nodiscard]] std::optional<JsonValue> member(std::string_view key) const;
    // Arrays: element `position`; objects: the key (even) or value (odd) at token `position`.
    [[nodiscard]] std::optional<JsonValue> element(uint32_t position) const;

    // Iteration over arrays (values) or objects (alternating key, value).
    [[nodiscard]] JsonValue first_child() const { return JsonValue(document_, index_ + 1); }
    [[nodiscard]] JsonValue next_sibling() const;

    [[nodiscard]] ErrorOr<bool> as_bool() const;
    // Integers only (no fraction, no exponent); out_of_range when they do not fit.
    [[nodiscard]] ErrorOr<uint64_t> as_uint64() const;
    [[nodiscard]] ErrorOr<int64_t> as_int64() const;
    // Strings: unescaped UTF-8 written to `out`; out_of_range when it does not fit.
    [[nodiscard]] ErrorOr<std::string_view> as_string(std::span<char> out) const;
    // Strings: whether the unescaped value equals `text`, without a buffer.
    [[nodiscard]] bool string_equals(std::string_view text) const;

private:
    [[nodiscard]] const JsonToken& token() const;

    const JsonDocument* document_;
    uint32_t index_;
};

class JsonDocument {
public:
    // Parses `text` into `tokens`. Fails with corrupt (not JSON), out_of_memory (more tokens
    // than `tokens` holds) or out_of_range (deeper than limits.max_depth); `error`, if given,
    // receives the byte offset and reason.
    [[nodiscard]] static ErrorOr<JsonDocument> parse(std::string_view text,
                                                     std::span<JsonToken> tokens,
                                                     JsonLimits limits = {},
                                                     JsonParseError* error = nullptr);

    [[nodiscard]] JsonValue root() const { return JsonValue(this, 0); }
    [[nodiscard]] uint32_t token_count() const { return token_count_; }
    [[nodiscard]] std::string_view text() const { return text_; }
    [[nodiscard]] const JsonToken& token(uint32_t index) const { return tokens_[index]; }

private:
    JsonDocument(std::string_view text, const JsonToken* tokens, uint32_t count)
        : text_(text), tokens_(tokens), token_count_(count) {}

    std::string_view text_;
    const JsonToken* tokens_;
    uint32_t token_count_;
};

// Yields the UTF-8 bytes of a JSON string token one at a time, undoing escapes. The text was
// validated by parse(), so it cannot fail.
class JsonStringBytes {
public:
    JsonStringBytes(std::string_view text, const JsonToken& token)
        : cursor_(text.data() + token.start), end_(text.data() + token.start + token.length) {}

    // Next byte, or -1 at the end.
    [[nodiscard]] int next();

private:
    const char* cursor_;
    const char* end_;
    uint8_t pending_[4];
    uint8_t pending_count_ = 0;
    uint8_t pending_index_ = 0;
};

} // namespace halcyon::mgmt
