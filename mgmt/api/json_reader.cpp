#include "mgmt/api/json_reader.hpp"
#include "mgmt/api/text.hpp"

#include "mgmt/api/hex.hpp"
#include "mgmt/api/utf8.hpp"

namespace halcyon::mgmt {
namespace {

constexpr bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Four hex digits at `text` (already known to exist), or -1.
int read_code_unit(const char* text) {
    int value = 0;
    for (int i = 0; i < 4; ++i) {
        int digit = hex_digit_value(text[i]);
        if (digit < 0)
            return -1;
        value = value << 4 | digit;
    }
    return value;
}

constexpr bool is_high_surrogate(int unit) {
    return unit >= 0xD800 && unit <= 0xDBFF;
}
constexpr bool is_low_surrogate(int unit) {
    return unit >= 0xDC00 && unit <= 0xDFFF;
}

bool strings_equal(std::string_view text, const JsonToken& a, const JsonToken& b) {
    if (!a.has_escapes && !b.has_escapes)
        return substring(text, a.start, a.length) == substring(text, b.start, b.length);
    JsonStringBytes left(text, a);
    JsonStringBytes right(text, b);
    for (;;) {
        int l = left.next();
        if (l != right.next())
            return false;
        if (l < 0)
            return true;
    }
}

enum class Expect { value, value_or_array_end, key, key_or_object_end, after_value };

class Parser {
public:
    Parser(std::string_view text, std::span<JsonToken> tokens, JsonLimits limits,
           JsonParseError* error)
        : text_(text), tokens_(tokens), error_(error),
          max_depth_(limits.max_depth < kJsonMaxDepthLimit ? limits.max_depth
                                                           : kJsonMaxDepthLimit) {}

    ErrorOr<uint32_t> run();

private:
    Error fail(ErrorCode code, const char* message) {
        if (error_) {
            error_->offset = pos_;
            error_->message = message;
        }
        return Error(code, message);
    }
    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return text_[pos_]; }
    void skip_whitespace() {
        // RFC 8259 section 2: exactly these four; no form feed, no Unicode spaces.
        while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
            ++pos_;
    }
    ErrorOr<uint32_t> add_token(JsonType type, uint32_t start, uint32_t length);
    ErrorOr<void> value();
    ErrorOr<void> key();
    ErrorOr<void> after_value(Expect& expect);
    ErrorOr<void> close_container();
    ErrorOr<void> string();
    ErrorOr<void> escape(const char* message_unit);
    ErrorOr<void> number();
    ErrorOr<void> literal(std::string_view word, JsonType type);

    std::string_view text_;
    std::span<JsonToken> tokens_;
    JsonParseError* error_;
    uint32_t max_depth_;
    uint32_t count_ = 0;
    uint32_t pos_ = 0;
    uint32_t stack_[kJsonMaxDepthLimit];
    uint32_t depth_ = 0;
};

ErrorOr<uint32_t> Parser::add_token(JsonType type, uint32_t start, uint32_t length) {
    if (count_ == tokens_.size())
        return fail(ErrorCode::out_of_memory, "too many values");
    uint32_t index = count_++;
    tokens_[index] = JsonToken{type, false, start, length, index + 1, 0};
    return index;
}

ErrorOr<uint32_t> Parser::run() {
    if (text_.size() > UINT32_MAX / 2)
        return fail(ErrorCode::out_of_range, "document too large");
    Expect expect = Expect::value;
    for (;;) {
        skip_whitespace();
        switch (expect) {
        case Expect::value_or_array_end:
            if (!at_end() && peek() == ']') {
                TRY(close_container());
                expect = Expect::after_value;
                break;
            }
            [[fallthrough]];
        case Expect::value:
            if (at_end())
                return fail(ErrorCode::corrupt, "unexpected end of input, expected a value");
            if (depth_ > 0 && tokens_[stack_[depth_ - 1]].type == JsonType::array)
                ++tokens_[stack_[depth_ - 1]].size;
            if (peek() == '{' || peek() == '[') {
                if (depth_ == max_depth_)
                    return fail(ErrorCode::out_of_range, "nested too deeply");
                bool object = peek() == '{';
                stack_[depth_++] =
                    TRY(add_token(object ? JsonType::object : JsonType::array, pos_, 0));
                ++pos_;
                expect = object ? Expect::key_or_object_end : Expect::value_or_array_end;
                break;
            }
            TRY(value());
            expect = Expect::after_value;
            break;
        case Expect::key_or_object_end:
            if (!at_end() && peek() == '}') {
                TRY(close_container());
                expect = Expect::after_value;
                break;
            }
            [[fallthrough]];
        case Expect::key:
            TRY(key());
            expect = Expect::value;
            break;
        case Expect::after_value:
            if (depth_ == 0) {
                if (!at_end())
                    return fail(ErrorCode::corrupt, "unexpected data after the value");
                return count_;
            }
            TRY(after_value(expect));
            break;
        }
    }
}

ErrorOr<void> Parser::value() {
    switch (peek()) {
    case '"':
        return string();
    case 't':
        return literal("true", JsonType::boolean);
    case 'f':
        return literal("false", JsonType::boolean);
    case 'n':
        return literal("null", JsonType::null);
    default:
        if (peek() == '-' || is_digit(peek()))
            return number();
        return fail(ErrorCode::corrupt, "expected a value");
    }
}

ErrorOr<void> Parser::key() {
    if (at_end() || peek() != '"')
        return fail(ErrorCode::corrupt, "expected a member name (a string)");
    uint32_t object = stack_[depth_ - 1];
    uint32_t key_start = pos_;
    TRY(string());
    uint32_t key = count_ - 1;
    // Walk the members before this one: each key is followed by its value's subtree.
    for (uint32_t other = object + 1; other < key; other = tokens_[other + 1].end) {
        if (strings_equal(text_, tokens_[other], tokens_[key])) {
            pos_ = key_start;
            return fail(ErrorCode::corrupt, "duplicate member name");
        }
    }
    ++tokens_[object].size;
    skip_whitespace();
    if (at_end() || peek() != ':')
        return fail(ErrorCode::corrupt, "expected ':' after the member name");
    ++pos_;
    return {};
}

ErrorOr<void> Parser::after_value(Expect& expect) {
    bool in_object = tokens_[stack_[depth_ - 1]].type == JsonType::object;
    if (at_end())
        return fail(ErrorCode::corrupt, in_object ? "unexpected end of input in an object"
                                                  : "unexpected end of input in an array");
    if (peek() == ',') {
        ++pos_;
        expect = in_object ? Expect::key : Expect::value;
        return {};
    }
    if (peek() == (in_object ? '}' : ']'))
        return close_container();
    return fail(ErrorCode::corrupt, in_object ? "expected ',' or '}'" : "expected ',' or ']'");
}

ErrorOr<void> Parser::close_container() {
    JsonToken& container = tokens_[stack_[--depth_]];
    container.end = count_;
    container.length = pos_ + 1 - container.start;
    ++pos_;
    return {};
}

ErrorOr<void> Parser::string() {
    uint32_t index = TRY(add_token(JsonType::string, pos_ + 1, 0));
    ++pos_;
    for (;;) {
        if (at_end())
            return fail(ErrorCode::corrupt, "unterminated string");
        uint8_t c = uint8_t(peek());
        if (c == '"')
            break;
        if (c == '\\') {
            tokens_[index].has_escapes = true;
            TRY(escape("invalid \\u escape"));
        } else if (c < 0x20) {
            return fail(ErrorCode::corrupt, "control character in a string (must be escaped)");
        } else if (c < 0x80) {
            ++pos_;
        } else {
            size_t length = utf8_sequence_length(reinterpret_cast<const uint8_t*>(&text_[pos_]),
                                                 text_.size() - pos_);
            if (length == 0)
                return fail(ErrorCode::corrupt, "invalid UTF-8 in a string");
            pos_ += uint32_t(length);
        }
    }
    tokens_[index].length = pos_ - tokens_[index].start;
    ++pos_;
    return {};
}

// At a backslash: checks one escape (a \u surrogate pair counts as one) and steps over it.
ErrorOr<void> Parser::escape(const char* message_unit) {
    if (text_.size() - pos_ < 2)
        return fail(ErrorCode::corrupt, "unterminated string");
    char kind = text_[pos_ + 1];
    if (kind != 'u') {
        switch (kind) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            break;
        default:
            return fail(ErrorCode::corrupt, "invalid escape in a string");
        }
        pos_ += 2;
        return {};
    }
    if (text_.size() - pos_ < 6)
        return fail(ErrorCode::corrupt, message_unit);
    int unit = read_code_unit(&text_[pos_ + 2]);
    if (unit < 0)
        return fail(ErrorCode::corrupt, message_unit);
    if (is_low_surrogate(unit))
        return fail(ErrorCode::corrupt, "unpaired UTF-16 surrogate in a \\u escape");
    if (is_high_surrogate(unit)) {
        bool paired = text_.size() - pos_ >= 12 && text_[pos_ + 6] == '\\' &&
                      text_[pos_ + 7] == 'u' && is_low_surrogate(read_code_unit(&text_[pos_ + 8]));
        if (!paired)
            return fail(ErrorCode::corrupt, "unpaired UTF-16 surrogate in a \\u escape");
        pos_ += 6;
    }
    pos_ += 6;
    return {};
}

// RFC 8259 section 6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
ErrorOr<void> Parser::number() {
    uint32_t start = pos_;
    auto digits = [&]() -> uint32_t {
        uint32_t first = pos_;
        while (!at_end() && is_digit(peek()))
            ++pos_;
        return pos_ - first;
    };
    if (peek() == '-')
        ++pos_;
    if (at_end() || !is_digit(peek()))
        return fail(ErrorCode::corrupt, "expected a digit");
    if (peek() == '0')
        ++pos_; // a leading zero stands alone; "01" then fails as data after the value
    else
        digits();
    if (!at_end() && peek() == '.') {
        ++pos_;
        if (digits() == 0)
            return fail(ErrorCode::corrupt, "expected a digit after the decimal point");
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
        ++pos_;
        if (!at_end() && (peek() == '+' || peek() == '-'))
            ++pos_;
        if (digits() == 0)
            return fail(ErrorCode::corrupt, "expected a digit in the exponent");
    }
    TRY(add_token(JsonType::number, start, pos_ - start));
    return {};
}

ErrorOr<void> Parser::literal(std::string_view word, JsonType type) {
    if (substring(text_, pos_, word.size()) != word)
        return fail(ErrorCode::corrupt, "expected a value");
    TRY(add_token(type, pos_, uint32_t(word.size())));
    pos_ += uint32_t(word.size());
    return {};
}

} // namespace

ErrorOr<JsonDocument> JsonDocument::parse(std::string_view text, std::span<JsonToken> tokens,
                                          JsonLimits limits, JsonParseError* error) {
    Parser parser(text, tokens, limits, error);
    uint32_t count = TRY(parser.run());
    return JsonDocument(text, tokens.data(), count);
}

int JsonStringBytes::next() {
    if (pending_index_ < pending_count_)
        return pending_[pending_index_++];
    if (cursor_ == end_)
        return -1;
    char c = *cursor_++;
    if (c != '\\')
        return uint8_t(c);
    char kind = *cursor_++;
    switch (kind) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'u':
        break;
    default:
        return uint8_t(kind); // " \ /
    }
    uint32_t code_point = uint32_t(read_code_unit(cursor_));
    cursor_ += 4;
    if (is_high_surrogate(int(code_point))) {
        uint32_t low = uint32_t(read_code_unit(cursor_ + 2));
        cursor_ += 6;
        code_point = 0x10000 + ((code_point - 0xD800) << 10) + (low - 0xDC00);
    }
    pending_count_ = uint8_t(utf8_encode(code_point, pending_));
    pending_index_ = 1;
    return pending_[0];
}

} // namespace halcyon::mgmt
