#include "vswitch/sim/json.hpp"

#include <cerrno>
#include <cstdlib>
#include <limits>

namespace halcyon::vswitch::sim {

const char* json_kind_name(JsonValue::Kind kind) {
    switch (kind) {
    case JsonValue::Kind::null:
        return "null";
    case JsonValue::Kind::boolean:
        return "a boolean";
    case JsonValue::Kind::number:
        return "a number";
    case JsonValue::Kind::string:
        return "a string";
    case JsonValue::Kind::array:
        return "an array";
    case JsonValue::Kind::object:
        return "an object";
    }
    return "?";
}

namespace {

class Parser {
public:
    explicit Parser(std::string_view text) : text_(text) {}

    JsonParseResult run() {
        JsonParseResult result;
        skip_whitespace();
        bool ok = parse_value(result.value, 0);
        if (ok) {
            skip_whitespace();
            if (!at_end())
                ok = fail("unexpected text after the JSON value");
        }
        if (!ok) {
            result.error = error_;
            result.line = error_line_;
            result.column = error_column_;
            return result;
        }
        result.ok = true;
        return result;
    }

private:
    [[nodiscard]] bool at_end() const { return pos_ >= text_.size(); }
    [[nodiscard]] char peek() const { return at_end() ? '\0' : text_[pos_]; }

    void advance() {
        if (text_[pos_] == '\n') {
            ++line_;
            column_ = 1;
        } else {
            ++column_;
        }
        ++pos_;
    }

    // Records the first error at the current position; always returns false so callers can
    // `return fail(...)`.
    bool fail(std::string message) {
        if (error_.empty()) {
            error_ = std::move(message);
            error_line_ = line_;
            error_column_ = column_;
        }
        return false;
    }

    void skip_whitespace() {
        while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
            advance();
    }

    bool expect_word(std::string_view word) {
        for (char c : word) {
            if (peek() != c)
                return fail("invalid literal (expected " + std::string(word) + ")");
            advance();
        }
        return true;
    }

    bool parse_value(JsonValue& out, uint32_t depth) {
        if (depth > kMaxJsonDepth)
            return fail("nesting deeper than 64 levels");
        out.line = line_;
        out.column = column_;
        switch (peek()) {
        case '{':
            return parse_object(out, depth);
        case '[':
            return parse_array(out, depth);
        case '"':
            out.kind = JsonValue::Kind::string;
            return parse_string(out.text);
        case 't':
            out.kind = JsonValue::Kind::boolean;
            out.boolean = true;
            return expect_word("true");
        case 'f':
            out.kind = JsonValue::Kind::boolean;
            out.boolean = false;
            return expect_word("false");
        case 'n':
            out.kind = JsonValue::Kind::null;
            return expect_word("null");
        case '\0':
            if (at_end())
                return fail("unexpected end of input (expected a value)");
            [[fallthrough]];
        default:
            if (peek() == '-' || (peek() >= '0' && peek() <= '9'))
                return parse_number(out);
            return fail(std::string("unexpected character '") + peek() + "' (expected a value)");
        }
    }

    bool parse_object(JsonValue& out, uint32_t depth) {
        out.kind = JsonValue::Kind::object;
        advance(); // {
        skip_whitespace();
        if (peek() == '}') {
            advance();
            return true;
        }
        for (;;) {
            skip_whitespace();
            if (peek() != '"')
                return fail(at_end() ? "unexpected end of input in an object"
                                     : "expected a string key in an object");
            const uint32_t key_line = line_, key_column = column_;
            std::string key;
            if (!parse_string(key))
                return false;
            if (out.find(key)) {
                line_ = key_line;
                column_ = key_column;
                return fail("duplicate key \"" + key + "\"");
            }
            skip_whitespace();
            if (peek() != ':')
                return fail("expected ':' after an object key");
            advance();
            skip_whitespace();
            JsonValue value;
            if (!parse_value(value, depth + 1))
                return false;
            out.members.emplace_back(std::move(key), std::move(value));
            out.member_positions.emplace_back(key_line, key_column);
            skip_whitespace();
            if (peek() == ',') {
                advance();
                skip_whitespace();
                if (peek() == '}')
                    return fail("trailing comma in an object");
                continue;
            }
            if (peek() == '}') {
                advance();
                return true;
            }
            return fail(at_end() ? "unexpected end of input in an object"
                                 : "expected ',' or '}' in an object");
        }
    }

    bool parse_array(JsonValue& out, uint32_t depth) {
        out.kind = JsonValue::Kind::array;
        advance(); // [
        skip_whitespace();
        if (peek() == ']') {
            advance();
            return true;
        }
        for (;;) {
            skip_whitespace();
            JsonValue value;
            if (!parse_value(value, depth + 1))
                return false;
            out.items.push_back(std::move(value));
            skip_whitespace();
            if (peek() == ',') {
                advance();
                skip_whitespace();
                if (peek() == ']')
                    return fail("trailing comma in an array");
                continue;
            }
            if (peek() == ']') {
                advance();
                return true;
            }
            return fail(at_end() ? "unexpected end of input in an array"
                                 : "expected ',' or ']' in an array");
        }
    }

    bool parse_hex4(uint32_t& out) {
        out = 0;
        for (int i = 0; i < 4; ++i) {
            char c = peek();
            uint32_t digit;
            if (c >= '0' && c <= '9')
                digit = static_cast<uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f')
                digit = static_cast<uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                digit = static_cast<uint32_t>(c - 'A' + 10);
            else
                return fail("invalid \\u escape (expected four hex digits)");
            out = out << 4 | digit;
            advance();
        }
        return true;
    }

    static void append_utf8(std::string& s, uint32_t cp) {
        if (cp < 0x80) {
            s += static_cast<char>(cp);
        } else if (cp < 0x800) {
            s += static_cast<char>(0xC0 | (cp >> 6));
            s += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            s += static_cast<char>(0xE0 | (cp >> 12));
            s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            s += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            s += static_cast<char>(0xF0 | (cp >> 18));
            s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            s += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    bool parse_string(std::string& out) {
        advance(); // opening quote
        for (;;) {
            if (at_end())
                return fail("unterminated string");
            const char c = peek();
            if (c == '"') {
                advance();
                return true;
            }
            if (static_cast<unsigned char>(c) < 0x20)
                return fail("control character in a string (escape it)");
            if (c != '\\') {
                out += c;
                advance();
                continue;
            }
            advance();
            const char e = peek();
            switch (e) {
            case '"':
                out += '"';
                break;
            case '\\':
                out += '\\';
                break;
            case '/':
                out += '/';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'u': {
                advance();
                uint32_t cp;
                if (!parse_hex4(cp))
                    return false;
                if (cp >= 0xD800 && cp < 0xDC00) {
                    if (peek() != '\\')
                        return fail("unpaired UTF-16 surrogate in a \\u escape");
                    advance();
                    if (peek() != 'u')
                        return fail("unpaired UTF-16 surrogate in a \\u escape");
                    advance();
                    uint32_t low;
                    if (!parse_hex4(low))
                        return false;
                    if (low < 0xDC00 || low > 0xDFFF)
                        return fail("unpaired UTF-16 surrogate in a \\u escape");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return fail("unpaired UTF-16 surrogate in a \\u escape");
                }
                append_utf8(out, cp);
                continue; // parse_hex4 already advanced
            }
            default:
                return fail(at_end() ? "unterminated string" : "invalid escape in a string");
            }
            advance();
        }
    }

    bool parse_number(JsonValue& out) {
        out.kind = JsonValue::Kind::number;
        const size_t start = pos_;
        bool integral = true;
        if (peek() == '-')
            advance();
        if (peek() == '0') {
            advance();
            if (peek() >= '0' && peek() <= '9')
                return fail("leading zeros are not allowed in numbers");
        } else if (peek() >= '1' && peek() <= '9') {
            while (peek() >= '0' && peek() <= '9')
                advance();
        } else {
            return fail("invalid number");
        }
        if (peek() == '.') {
            integral = false;
            advance();
            if (!(peek() >= '0' && peek() <= '9'))
                return fail("invalid number (digits expected after '.')");
            while (peek() >= '0' && peek() <= '9')
                advance();
        }
        if (peek() == 'e' || peek() == 'E') {
            integral = false;
            advance();
            if (peek() == '+' || peek() == '-')
                advance();
            if (!(peek() >= '0' && peek() <= '9'))
                return fail("invalid number (digits expected in the exponent)");
            while (peek() >= '0' && peek() <= '9')
                advance();
        }
        const std::string literal(text_.substr(start, pos_ - start));
        out.number = std::strtod(literal.c_str(), nullptr);
        out.text = literal;
        if (integral) {
            errno = 0;
            char* end = nullptr;
            long long value = std::strtoll(literal.c_str(), &end, 10);
            if (errno == 0 && end == literal.c_str() + literal.size()) {
                out.is_integer = true;
                out.integer = value;
            }
        }
        return true;
    }

    std::string_view text_;
    size_t pos_ = 0;
    uint32_t line_ = 1;
    uint32_t column_ = 1;
    std::string error_;
    uint32_t error_line_ = 0;
    uint32_t error_column_ = 0;
};

} // namespace

JsonParseResult parse_json(std::string_view text) {
    return Parser(text).run();
}

} // namespace halcyon::vswitch::sim
