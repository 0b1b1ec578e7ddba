#include "mgmt/api/hex.hpp"

namespace halcyon::mgmt {

std::string_view hex_encode(std::span<const uint8_t> bytes, std::span<char> out) {
    constexpr char kDigits[] = "0123456789abcdef";
    size_t length = bytes.size() * 2 <= out.size() ? bytes.size() : out.size() / 2;
    for (size_t i = 0; i < length; ++i) {
        out[2 * i] = kDigits[bytes[i] >> 4];
        out[2 * i + 1] = kDigits[bytes[i] & 0xF];
    }
    return std::string_view(out.data(), length * 2);
}

bool hex_decode(std::string_view text, std::span<uint8_t> out) {
    if (text.size() != out.size() * 2)
        return false;
    for (size_t i = 0; i < out.size(); ++i) {
        int high = hex_digit_value(text[2 * i]);
        int low = hex_digit_value(text[2 * i + 1]);
        if (high < 0 || low < 0)
            return false;
        out[i] = uint8_t(high << 4 | low);
    }
    return true;
}

} // namespace halcyon::mgmt
