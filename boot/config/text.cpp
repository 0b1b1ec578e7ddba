#include "boot/config/text.hpp"

namespace halcyon::config::text {

bool is_space(char c) {
    return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_space(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && is_space(text.back()))
        text.remove_suffix(1);
    return text;
}

LineReader::LineReader(std::string_view text) : rest_(text) {
    if (rest_.size() >= 3 && static_cast<uint8_t>(rest_[0]) == 0xEF &&
        static_cast<uint8_t>(rest_[1]) == 0xBB && static_cast<uint8_t>(rest_[2]) == 0xBF)
        rest_.remove_prefix(3);
}

bool LineReader::next(std::string_view& line, uint32_t& number) {
    if (done_)
        return false;
    size_t end = rest_.find('\n');
    if (end == std::string_view::npos) {
        done_ = true;
        if (rest_.empty())
            return false; // the text ended with a newline (or was empty): no extra line
        line = rest_;
    } else {
        line = slice(rest_, 0, end);
        rest_.remove_prefix(end + 1);
    }
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    number = ++number_;
    return true;
}

std::string_view strip_comment(std::string_view text) {
    bool in_quotes = false;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '"')
            in_quotes = !in_quotes;
        else if (text[i] == '#' && !in_quotes && (i == 0 || is_space(text[i - 1])))
            return slice(text, 0, i);
    }
    return text;
}

bool split_value(std::string_view raw, Value& out, const char*& error) {
    if (!raw.empty() && raw.front() == '"') {
        size_t close = raw.find('"', 1);
        if (close == std::string_view::npos) {
            error = "unterminated quote in value";
            return false;
        }
        out.quoted = true;
        out.whole = out.first = slice(raw, 1, close - 1);
        out.rest = trim(slice(raw, close + 1));
        return true;
    }
    out.quoted = false;
    out.whole = raw;
    size_t space = 0;
    while (space < raw.size() && !is_space(raw[space]))
        ++space;
    out.first = slice(raw, 0, space);
    out.rest = trim(slice(raw, space));
    return true;
}

namespace {

int digit_value(char c, unsigned base) {
    int value = -1;
    if (c >= '0' && c <= '9')
        value = c - '0';
    else if (c >= 'a' && c <= 'f')
        value = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        value = c - 'A' + 10;
    return value >= 0 && static_cast<unsigned>(value) < base ? value : -1;
}

} // namespace

bool parse_unsigned(std::string_view text, uint64_t max, uint64_t& out) {
    unsigned base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        text.remove_prefix(2);
    }
    if (text.empty())
        return false;
    uint64_t value = 0;
    for (char c : text) {
        int digit = digit_value(c, base);
        if (digit < 0)
            return false;
        if (value > (max - static_cast<uint64_t>(digit)) / base)
            return false; // would exceed max (and so never overflows)
        value = value * base + static_cast<uint64_t>(digit);
    }
    out = value;
    return true;
}

bool parse_size(std::string_view text, uint64_t& out) {
    unsigned shift = 0;
    if (!text.empty()) {
        switch (text.back()) {
        case 'K':
        case 'k':
            shift = 10;
            break;
        case 'M':
        case 'm':
            shift = 20;
            break;
        case 'G':
        case 'g':
            shift = 30;
            break;
        default:
            break;
        }
        if (shift != 0)
            text.remove_suffix(1);
    }
    uint64_t value;
    if (!parse_unsigned(text, ~uint64_t{0} >> shift, value))
        return false;
    out = value << shift;
    return true;
}

bool parse_ipv4(std::string_view text, uint32_t& out) {
    uint32_t address = 0;
    for (int part = 0; part < 4; ++part) {
        size_t end = part < 3 ? text.find('.') : text.size();
        if (end == std::string_view::npos || end == 0 || end > 3)
            return false;
        std::string_view digits = slice(text, 0, end);
        if (digits.size() > 1 && digits[0] == '0')
            return false; // "010" is octal to some tools and decimal to others: refuse it
        for (char c : digits) {
            if (c < '0' || c > '9')
                return false;
        }
        uint64_t value;
        if (!parse_unsigned(digits, 255, value))
            return false;
        address = (address << 8) | static_cast<uint32_t>(value);
        text.remove_prefix(part < 3 ? end + 1 : end);
    }
    out = address;
    return true;
}

size_t edit_distance(std::string_view a, std::string_view b, size_t cap) {
    constexpr size_t kLongest = 32;
    if (a.size() > kLongest || b.size() > kLongest)
        return cap;
    size_t previous[kLongest + 1], current[kLongest + 1];
    for (size_t j = 0; j <= b.size(); ++j)
        previous[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        current[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            size_t remove = previous[j] + 1;
            size_t insert = current[j - 1] + 1;
            size_t best = substitute < remove ? substitute : remove;
            current[j] = best < insert ? best : insert;
        }
        for (size_t j = 0; j <= b.size(); ++j)
            previous[j] = current[j];
    }
    return previous[b.size()] < cap ? previous[b.size()] : cap;
}

bool has_control_character(std::string_view text) {
    for (char c : text) {
        auto byte = static_cast<uint8_t>(c);
        if ((byte < 0x20 && c != '\t') || byte == 0x7F)
            return true;
    }
    return false;
}

} // namespace halcyon::config::text
