#include "vswitch/sim/text_formats.hpp"

#include "lib/base/hex.hpp"

#include <arpa/inet.h>
#include <cstdio>

namespace halcyon::vswitch::sim {

namespace {

[[nodiscard]] bool parse_decimal(std::string_view text, uint32_t max, uint32_t& out) {
    if (text.empty() || text.size() > 10)
        return false;
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return false;
        value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    if (value > max)
        return false;
    out = static_cast<uint32_t>(value);
    return true;
}

} // namespace

bool parse_mac(std::string_view text, MacAddress& out) {
    if (text.size() != 17)
        return false;
    const char separator = text[2];
    if (separator != ':' && separator != '-')
        return false;
    MacAddress mac;
    for (int i = 0; i < 6; ++i) {
        const int high = hex_digit_value(text[i * 3]);
        const int low = hex_digit_value(text[i * 3 + 1]);
        if (high < 0 || low < 0 || (i < 5 && text[i * 3 + 2] != separator))
            return false;
        mac.bytes[i] = static_cast<uint8_t>(high << 4 | low);
    }
    out = mac;
    return true;
}

std::string format_mac(const MacAddress& mac) {
    char text[18];
    std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac.bytes[0], mac.bytes[1],
                  mac.bytes[2], mac.bytes[3], mac.bytes[4], mac.bytes[5]);
    return text;
}

bool parse_ipv4(std::string_view text, Ipv4Address& out) {
    uint32_t value = 0;
    for (int part = 0; part < 4; ++part) {
        const size_t dot = text.find('.');
        const std::string_view piece = part < 3 ? text.substr(0, dot) : text;
        if ((part < 3 && dot == std::string_view::npos) || (piece.size() > 1 && piece[0] == '0'))
            return false;
        uint32_t octet;
        if (!parse_decimal(piece, 255, octet))
            return false;
        value = value << 8 | octet;
        if (part < 3)
            text.remove_prefix(dot + 1);
    }
    out = {value};
    return true;
}

bool parse_ipv6(std::string_view text, Ipv6Address& out) {
    if (text.empty() || text.size() > 45 || text.find(':') == std::string_view::npos)
        return false;
    const std::string copy(text);
    unsigned char bytes[16];
    if (inet_pton(AF_INET6, copy.c_str(), bytes) != 1)
        return false;
    for (int i = 0; i < 16; ++i)
        out.bytes[i] = bytes[i];
    return true;
}

bool parse_net_address(std::string_view text, nvgre::NetAddress& out) {
    Ipv4Address v4;
    if (parse_ipv4(text, v4)) {
        out = nvgre::NetAddress::v4(
            static_cast<uint8_t>(v4.value >> 24), static_cast<uint8_t>(v4.value >> 16),
            static_cast<uint8_t>(v4.value >> 8), static_cast<uint8_t>(v4.value));
        return true;
    }
    Ipv6Address v6;
    if (!parse_ipv6(text, v6))
        return false;
    out = nvgre::NetAddress::from_wire_v6(v6.bytes.data());
    return true;
}

bool parse_prefix(std::string_view text, acl::AddressFamily& family, acl::IpAddress& address,
                  uint8_t& prefix_length) {
    const size_t slash = text.find('/');
    const std::string_view host = text.substr(0, slash);
    Ipv4Address v4;
    Ipv6Address v6;
    uint32_t max_length;
    if (parse_ipv4(host, v4)) {
        family = acl::AddressFamily::ipv4;
        address = acl::IpAddress::from(v4);
        max_length = 32;
    } else if (parse_ipv6(host, v6)) {
        family = acl::AddressFamily::ipv6;
        address = acl::IpAddress::from(v6);
        max_length = 128;
    } else {
        return false;
    }
    uint32_t length = max_length;
    if (slash != std::string_view::npos &&
        !parse_decimal(text.substr(slash + 1), max_length, length))
        return false;
    prefix_length = static_cast<uint8_t>(length);
    return true;
}

bool parse_guid(std::string_view text, nvgre::RoutingDomainId& out) {
    if (text.size() == 38) {
        if (text.front() != '{' || text.back() != '}')
            return false;
        text = text.substr(1, 36);
    }
    if (text.size() != 36)
        return false;
    uint64_t words[2] = {0, 0};
    int digits = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash_position) {
            if (text[i] != '-')
                return false;
            continue;
        }
        const int value = hex_digit_value(text[i]);
        if (value < 0)
            return false;
        uint64_t& word = words[digits / 16];
        word = word << 4 | static_cast<uint64_t>(value);
        ++digits;
    }
    out = {words[0], words[1]};
    return true;
}

bool parse_range(std::string_view text, uint32_t max, uint32_t& first, uint32_t& last) {
    const size_t dash = text.find('-');
    if (dash == std::string_view::npos) {
        if (!parse_decimal(text, max, first))
            return false;
        last = first;
        return true;
    }
    return parse_decimal(text.substr(0, dash), max, first) &&
           parse_decimal(text.substr(dash + 1), max, last) && first <= last;
}

} // namespace halcyon::vswitch::sim
