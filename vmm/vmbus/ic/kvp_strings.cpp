// UTF-8 <-> UTF-16LE conversion for KVP strings (see kvp_strings.hpp).
#include "vmm/vmbus/ic/kvp_strings.hpp"

namespace halcyon::vmm::vmbus::ic {

namespace {

constexpr uint32_t kReplacement = 0xFFFD;

// Decodes one code point from valid-or-not UTF-8 at text[at]; advances `at`. Returns false for
// malformed input (overlong forms, surrogates, beyond U+10FFFF, truncated sequences, NUL).
bool next_code_point(std::string_view text, size_t& at, uint32_t& code) {
    const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
    const uint8_t lead = byte(at);
    uint32_t length;
    uint32_t minimum;
    if (lead == 0)
        return false;
    if (lead < 0x80) {
        code = lead;
        ++at;
        return true;
    }
    if ((lead & 0xE0) == 0xC0) {
        length = 2;
        minimum = 0x80;
        code = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
        length = 3;
        minimum = 0x800;
        code = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
        length = 4;
        minimum = 0x10000;
        code = lead & 0x07;
    } else {
        return false;
    }
    if (text.size() - at < length)
        return false;
    for (uint32_t i = 1; i < length; ++i) {
        const uint8_t continuation = byte(at + i);
        if ((continuation & 0xC0) != 0x80)
            return false;
        code = (code << 6) | (continuation & 0x3F);
    }
    if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
        return false;
    at += length;
    return true;
}

uint32_t utf8_length(uint32_t code) {
    return code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
}

void put_utf8(char* out, uint32_t code) {
    const uint32_t length = utf8_length(code);
    if (length == 1) {
        out[0] = static_cast<char>(code);
        return;
    }
    static constexpr uint8_t kLeadMarks[] = {0, 0, 0xC0, 0xE0, 0xF0};
    for (uint32_t i = length - 1; i > 0; --i) {
        out[i] = static_cast<char>(0x80 | (code & 0x3F));
        code >>= 6;
    }
    out[0] = static_cast<char>(kLeadMarks[length] | code);
}

} // namespace

bool valid_utf8(std::string_view text) {
    size_t at = 0;
    uint32_t code = 0;
    while (at < text.size()) {
        if (!next_code_point(text, at, code))
            return false;
    }
    return true;
}

ErrorOr<uint32_t> utf8_to_utf16le(std::string_view text, std::span<uint8_t> out) {
    size_t at = 0;
    uint32_t written = 0;
    const auto put_unit = [&](uint32_t unit) {
        out[written] = static_cast<uint8_t>(unit);
        out[written + 1] = static_cast<uint8_t>(unit >> 8);
        written += 2;
    };
    while (at < text.size()) {
        uint32_t code = 0;
        if (!next_code_point(text, at, code))
            return Error(ErrorCode::invalid_argument, "kvp: string is not valid UTF-8");
        const uint32_t units = code >= 0x10000 ? 2 : 1;
        // Room for this code point and the terminator.
        if (out.size() < written + 2 * units + 2)
            return Error(ErrorCode::out_of_range, "kvp: string too long for its field");
        if (units == 2) {
            code -= 0x10000;
            put_unit(0xD800 | (code >> 10));
            put_unit(0xDC00 | (code & 0x3FF));
        } else {
            put_unit(code);
        }
    }
    if (out.size() < written + 2)
        return Error(ErrorCode::out_of_range, "kvp: string too long for its field");
    put_unit(0);
    return written;
}

Utf8Conversion utf16le_to_utf8(std::span<const uint8_t> in, std::span<char> out) {
    Utf8Conversion result;
    const size_t units = in.size() / 2;
    const auto unit_at = [&](size_t i) {
        return static_cast<uint32_t>(in[2 * i] | (in[2 * i + 1] << 8));
    };
    for (size_t i = 0; i < units; ++i) {
        uint32_t code = unit_at(i);
        if (code == 0)
            break;
        if (code >= 0xD800 && code <= 0xDBFF && i + 1 < units && unit_at(i + 1) >= 0xDC00 &&
            unit_at(i + 1) <= 0xDFFF) {
            code = 0x10000 + ((code - 0xD800) << 10) + (unit_at(i + 1) - 0xDC00);
            ++i;
        } else if (code >= 0xD800 && code <= 0xDFFF) {
            code = kReplacement;
            result.replaced = true;
        }
        const uint32_t length = utf8_length(code);
        if (out.size() - result.length < length) {
            result.truncated = true;
            break;
        }
        put_utf8(out.data() + result.length, code);
        result.length += length;
    }
    return result;
}

} // namespace halcyon::vmm::vmbus::ic
