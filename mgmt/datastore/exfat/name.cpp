#include "mgmt/datastore/exfat/name.hpp"

#include "mgmt/datastore/exfat/checksum.hpp"

namespace halcyon::exfat {
namespace {

bool character_allowed(uint16_t c) {
    if (c < 0x20)
        return false;
    switch (c) {
    case '"':
    case '*':
    case '/':
    case ':':
    case '<':
    case '>':
    case '?':
    case '\\':
    case '|':
        return false;
    default:
        return true;
    }
}

// Decodes UTF-8 into UTF-16 units (at most `limit`); errors on malformed input.
ErrorOr<void> decode(std::string_view text, Name& out, size_t limit) {
    out.length = 0;
    size_t i = 0;
    auto push = [&](uint16_t unit) -> ErrorOr<void> {
        if (out.length >= limit)
            return Error(ErrorCode::invalid_argument, "exfat: name is too long");
        out.chars[out.length++] = unit;
        return {};
    };
    while (i < text.size()) {
        uint8_t lead = static_cast<uint8_t>(text[i]);
        uint32_t code;
        size_t extra;
        if (lead < 0x80) {
            code = lead;
            extra = 0;
        } else if ((lead & 0xE0) == 0xC0) {
            code = lead & 0x1F;
            extra = 1;
        } else if ((lead & 0xF0) == 0xE0) {
            code = lead & 0x0F;
            extra = 2;
        } else if ((lead & 0xF8) == 0xF0) {
            code = lead & 0x07;
            extra = 3;
        } else {
            return Error(ErrorCode::invalid_argument, "exfat: name is not valid UTF-8");
        }
        for (size_t k = 1; k <= extra; ++k) {
            if (i + k >= text.size())
                return Error(ErrorCode::invalid_argument, "exfat: name is not valid UTF-8");
            uint8_t next = static_cast<uint8_t>(text[i + k]);
            if ((next & 0xC0) != 0x80)
                return Error(ErrorCode::invalid_argument, "exfat: name is not valid UTF-8");
            code = code << 6 | (next & 0x3F);
        }
        static constexpr uint32_t kMinimum[4] = {0, 0x80, 0x800, 0x10000};
        if (code < kMinimum[extra] || code > 0x10FFFF)
            return Error(ErrorCode::invalid_argument, "exfat: name is not valid UTF-8");
        i += extra + 1;
        if (code >= 0x10000) {
            code -= 0x10000;
            TRY(push(static_cast<uint16_t>(0xD800 | code >> 10)));
            TRY(push(static_cast<uint16_t>(0xDC00 | (code & 0x3FF))));
        } else {
            TRY(push(static_cast<uint16_t>(code)));
        }
    }
    return {};
}

} // namespace

bool name_characters_valid(std::span<const uint16_t> name) {
    for (uint16_t c : name)
        if (!character_allowed(c))
            return false;
    return true;
}

ErrorOr<void> name_from_utf8(std::string_view text, Name& out) {
    if (text.empty())
        return Error(ErrorCode::invalid_argument, "exfat: empty name");
    if (text == "." || text == "..")
        return Error(ErrorCode::invalid_argument, "exfat: '.' and '..' are not names");
    TRY(decode(text, out, layout::kMaxNameLength));
    if (!name_characters_valid(out.view()))
        return Error(ErrorCode::invalid_argument,
                     "exfat: name contains a control character or one of \" * / : < > ? \\ |");
    return {};
}

ErrorOr<void> label_from_utf8(std::string_view text, Name& out) {
    TRY(decode(text, out, layout::kMaxLabelLength));
    if (!name_characters_valid(out.view()))
        return Error(ErrorCode::invalid_argument,
                     "exfat: label contains a control character or one of \" * / : < > ? \\ |");
    return {};
}

size_t name_to_utf8(std::span<const uint16_t> name, std::span<char> out) {
    size_t n = 0;
    auto put = [&](uint32_t byte) {
        if (n < out.size())
            out[n++] = static_cast<char>(byte);
    };
    for (size_t i = 0; i < name.size(); ++i) {
        uint32_t code = name[i];
        if (code >= 0xD800 && code < 0xDC00 && i + 1 < name.size() && name[i + 1] >= 0xDC00 &&
            name[i + 1] < 0xE000) {
            code = 0x10000 + ((code - 0xD800) << 10 | (name[i + 1] - 0xDC00));
            ++i;
        }
        if (code < 0x80) {
            put(code);
        } else if (code < 0x800) {
            put(0xC0 | code >> 6);
            put(0x80 | (code & 0x3F));
        } else if (code < 0x10000) {
            // Includes unpaired surrogates, kept as 3-byte sequences so they round-trip.
            put(0xE0 | code >> 12);
            put(0x80 | (code >> 6 & 0x3F));
            put(0x80 | (code & 0x3F));
        } else {
            put(0xF0 | code >> 18);
            put(0x80 | (code >> 12 & 0x3F));
            put(0x80 | (code >> 6 & 0x3F));
            put(0x80 | (code & 0x3F));
        }
    }
    return n;
}

bool names_equal(const UpcaseTable& upcase, std::span<const uint16_t> a,
                 std::span<const uint16_t> b) {
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (upcase.upcase(a[i]) != upcase.upcase(b[i]))
            return false;
    return true;
}

uint16_t name_hash_of(const UpcaseTable& upcase, std::span<const uint16_t> name) {
    uint16_t upcased[layout::kMaxNameLength];
    size_t length = name.size() < layout::kMaxNameLength ? name.size() : layout::kMaxNameLength;
    for (size_t i = 0; i < length; ++i)
        upcased[i] = upcase.upcase(name[i]);
    return name_hash({upcased, length});
}

} // namespace halcyon::exfat
