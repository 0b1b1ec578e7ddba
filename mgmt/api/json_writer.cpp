#include "mgmt/api/json_writer.hpp"
#include "mgmt/api/text.hpp"

#include "mgmt/api/utf8.hpp"

namespace halcyon::mgmt {

void JsonWriter::put(char c) {
    if (length_ < out_.size())
        out_[length_++] = c;
    else
        overflowed_ = true;
}

void JsonWriter::put(std::string_view text) {
    for (char c : text)
        put(c);
}

void JsonWriter::before_value() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (depth_ == 0)
        return;
    uint64_t bit = uint64_t(1) << ((depth_ - 1) & 63);
    if (has_members_ & bit)
        put(',');
    has_members_ |= bit;
}

void JsonWriter::open(char bracket) {
    before_value();
    put(bracket);
    ++depth_;
    has_members_ &= ~(uint64_t(1) << ((depth_ - 1) & 63));
}

void JsonWriter::close(char bracket) {
    put(bracket);
    if (depth_ > 0)
        --depth_;
}

void JsonWriter::key(std::string_view name) {
    string(name);
    put(':');
    after_key_ = true;
}

void JsonWriter::string(std::string_view text) {
    before_value();
    constexpr char kHex[] = "0123456789abcdef";
    put('"');
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(text.data());
    for (size_t i = 0; i < text.size();) {
        uint8_t c = bytes[i];
        if (c == '"' || c == '\\') {
            put('\\');
            put(char(c));
        } else if (c == '\n') {
            put("\\n");
        } else if (c == '\r') {
            put("\\r");
        } else if (c == '\t') {
            put("\\t");
        } else if (c < 0x20 || c == 0x7F) {
            put("\\u00");
            put(kHex[c >> 4]);
            put(kHex[c & 0xF]);
        } else if (c >= 0x80) {
            size_t length = utf8_sequence_length(bytes + i, text.size() - i);
            if (length == 0) {
                put("\xEF\xBF\xBD"); // U+FFFD REPLACEMENT CHARACTER for one invalid byte
                ++i;
                continue;
            }
            put(substring(text, i, length));
            i += length;
            continue;
        } else {
            put(char(c));
        }
        ++i;
    }
    put('"');
}

void JsonWriter::number(uint64_t value) {
    before_value();
    char digits[20];
    int count = 0;
    do {
        digits[count++] = char('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (count > 0)
        put(digits[--count]);
}

void JsonWriter::number_signed(int64_t value) {
    if (value >= 0) {
        number(uint64_t(value));
        return;
    }
    before_value();
    put('-');
    after_key_ = true; // the digits that follow are part of this same value
    number(0 - uint64_t(value));
}

void JsonWriter::boolean(bool value) {
    before_value();
    put(value ? "true" : "false");
}

void JsonWriter::null() {
    before_value();
    put("null");
}

} // namespace halcyon::mgmt
