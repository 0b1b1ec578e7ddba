// Lexical pieces of the halcyon.cfg parser: lines, comments, quoting, numbers, sizes, IPv4
// addresses. Pure functions over string_views (no allocation), shared by the key handlers.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::config::text {

[[nodiscard]] bool is_space(char c);

// string_view::substr without its out-of-range throw (which, without exceptions, pulls in
// abort()): `from` and `count` are clamped to the text.
[[nodiscard]] constexpr std::string_view slice(std::string_view text, size_t from,
                                               size_t count = std::string_view::npos) {
    if (from > text.size())
        from = text.size();
    size_t available = text.size() - from;
    return std::string_view(text.data() + from, count < available ? count : available);
}
[[nodiscard]] std::string_view trim(std::string_view text);

// Splits a file into lines: accepts \n and \r\n endings and skips a leading UTF-8 BOM.
class LineReader {
public:
    explicit LineReader(std::string_view text);
    // The next line without its ending; false at the end of the text.
    [[nodiscard]] bool next(std::string_view& line, uint32_t& number);

private:
    std::string_view rest_;
    uint32_t number_ = 0;
    bool done_ = false;
};

// Drops a comment: `#` at the start of the text or after a space/tab, outside double quotes.
// (So `a#b` stays one word, and `"x # y"` keeps its '#'.)
[[nodiscard]] std::string_view strip_comment(std::string_view text);

// The right-hand side of `key = value`, split for the handlers.
struct Value {
    std::string_view whole; // unquoted: the whole value; quoted: what is inside the quotes
    std::string_view first; // unquoted: the first word; quoted: what is inside the quotes
    std::string_view rest;  // what follows `first` (trimmed), e.g. the `ro` of `disk = x ro`
    bool quoted;
};

// Splits `raw` (already comment-stripped and trimmed). False with `error` set for an
// unterminated quote.
[[nodiscard]] bool split_value(std::string_view raw, Value& out, const char*& error);

// Unsigned integer: decimal, or hexadecimal with 0x. False on junk, empty text or > max.
[[nodiscard]] bool parse_unsigned(std::string_view text, uint64_t max, uint64_t& out);

// Byte count with an optional K, M or G suffix (binary multiples, either case).
[[nodiscard]] bool parse_size(std::string_view text, uint64_t& out);

// Dotted-quad IPv4 address in host byte order (each part 0..255 decimal, no leading zeros).
[[nodiscard]] bool parse_ipv4(std::string_view text, uint32_t& out);

// Levenshtein distance, capped: returns `cap` when the words are further apart than that (or
// too long to compare), so suggestions stay cheap.
[[nodiscard]] size_t edit_distance(std::string_view a, std::string_view b, size_t cap);

// True when `text` holds a byte a config value must not contain (control characters).
[[nodiscard]] bool has_control_character(std::string_view text);

} // namespace halcyon::config::text
