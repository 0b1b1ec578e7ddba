#include "vhdx/utf16.hpp"

namespace halcyon::vhdx {
namespace {

// Decodes one code point from UTF-8 at text[i], advancing i; -1 if malformed.
int32_t next_utf8(std::string_view text, size_t& i) {
    auto byte = [&](size_t at) { return static_cast<uint8_t>(text[at]); };
    uint8_t first = byte(i);
    int extra;
    int32_t code;
    if (first < 0x80) {
        ++i;
        return first;
    } else if ((first & 0xE0) == 0xC0) {
        extra = 1;
        code = first & 0x1F;
    } else if ((first & 0xF0) == 0xE0) {
        extra = 2;
        code = first & 0x0F;
    } else if ((first & 0xF8) == 0xF0) {
        extra = 3;
        code = first & 0x07;
    } else {
        return -1;
    }
    if (i + static_cast<size_t>(extra) >= text.size())
        return -1;
    for (int k = 1; k <= extra; ++k) {
        uint8_t next = byte(i + k);
        if ((next & 0xC0) != 0x80)
            return -1;
        code = code << 6 | (next & 0x3F);
    }
    static constexpr int32_t kMinimum[4] = {0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
        return -1;
    i += static_cast<size_t>(extra) + 1;
    return code;
}

// Decodes one code point from UTF-16LE units; -1 if malformed.
int32_t next_utf16(std::span<const uint8_t> data, size_t& i) {
    auto unit = [&](size_t at) { return static_cast<uint32_t>(data[at] | data[at + 1] << 8); };
    uint32_t first = unit(i);
    i += 2;
    if (first < 0xD800 || first > 0xDFFF)
        return static_cast<int32_t>(first);
    if (first > 0xDBFF || i + 2 > data.size())
        return -1;
    uint32_t second = unit(i);
    if (second < 0xDC00 || second > 0xDFFF)
        return -1;
    i += 2;
    return static_cast<int32_t>(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00));
}

size_t utf8_size(int32_t code) {
    return code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
}

} // namespace

ErrorOr<size_t> utf16_length_of_utf8(std::string_view text) {
    size_t length = 0;
    for (size_t i = 0; i < text.size();) {
        int32_t code = next_utf8(text, i);
        if (code < 0)
            return Error(ErrorCode::invalid_argument, "vhdx: path is not valid UTF-8");
        length += code >= 0x10000 ? 4 : 2;
    }
    return length;
}

ErrorOr<void> utf8_to_utf16le(std::string_view text, std::span<uint8_t> out) {
    size_t o = 0;
    auto put = [&](uint32_t unit) {
        out[o++] = static_cast<uint8_t>(unit);
        out[o++] = static_cast<uint8_t>(unit >> 8);
    };
    for (size_t i = 0; i < text.size();) {
        int32_t code = next_utf8(text, i);
        if (code < 0)
            return Error(ErrorCode::invalid_argument, "vhdx: path is not valid UTF-8");
        size_t needed = code >= 0x10000 ? 4 : 2;
        if (o + needed > out.size())
            return Error(ErrorCode::out_of_range, "vhdx: UTF-16 buffer too small");
        if (code >= 0x10000) {
            uint32_t value = static_cast<uint32_t>(code) - 0x10000;
            put(0xD800 + (value >> 10));
            put(0xDC00 + (value & 0x3FF));
        } else {
            put(static_cast<uint32_t>(code));
        }
    }
    return {};
}

ErrorOr<size_t> utf8_length_of_utf16le(std::span<const uint8_t> data) {
    if (data.size() % 2 != 0)
        return Error(ErrorCode::corrupt, "vhdx: UTF-16 string has an odd byte length");
    size_t length = 0;
    for (size_t i = 0; i < data.size();) {
        int32_t code = next_utf16(data, i);
        if (code < 0)
            return Error(ErrorCode::corrupt, "vhdx: UTF-16 string has a broken surrogate pair");
        length += utf8_size(code);
    }
    return length;
}

ErrorOr<void> utf16le_to_utf8(std::span<const uint8_t> data, std::span<char> out) {
    if (data.size() % 2 != 0)
        return Error(ErrorCode::corrupt, "vhdx: UTF-16 string has an odd byte length");
    size_t o = 0;
    for (size_t i = 0; i < data.size();) {
        int32_t code = next_utf16(data, i);
        if (code < 0)
            return Error(ErrorCode::corrupt, "vhdx: UTF-16 string has a broken surrogate pair");
        size_t size = utf8_size(code);
        if (o + size > out.size())
            return Error(ErrorCode::out_of_range, "vhdx: UTF-8 buffer too small");
        auto c = static_cast<uint32_t>(code);
        if (size == 1) {
            out[o++] = static_cast<char>(c);
        } else if (size == 2) {
            out[o++] = static_cast<char>(0xC0 | c >> 6);
            out[o++] = static_cast<char>(0x80 | (c & 0x3F));
        } else if (size == 3) {
            out[o++] = static_cast<char>(0xE0 | c >> 12);
            out[o++] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out[o++] = static_cast<char>(0x80 | (c & 0x3F));
        } else {
            out[o++] = static_cast<char>(0xF0 | c >> 18);
            out[o++] = static_cast<char>(0x80 | ((c >> 12) & 0x3F));
            out[o++] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out[o++] = static_cast<char>(0x80 | (c & 0x3F));
        }
    }
    return {};
}

} // namespace halcyon::vhdx
