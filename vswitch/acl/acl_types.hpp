// Port ACL vocabulary: rules as an operator writes them and the facts of one packet that the
// classifier looks at. Rules are written from the port's point of view (local = the VM behind
// the port, remote = the other end), as Hyper-V's extended port ACLs are: for an outbound packet
// local is its source, for an inbound packet local is its destination. That makes a rule with
// direction "both" mean the same peer in both directions, and lets a stateful rule describe its
// return traffic with the same addresses.
#pragma once

#include "vswitch/packet/bytes.hpp"

#include <array>
#include <stdint.h>

namespace halcyon::vswitch::acl {

enum class Direction : uint8_t {
    inbound = 1,  // towards the VM (the switch delivers the packet to this port)
    outbound = 2, // from the VM (the switch received the packet on this port)
    both = 3,
};

enum class Action : uint8_t {
    allow,
    deny,
    meter, // counts matching traffic; never changes the allow/deny verdict
};

enum class AddressFamily : uint8_t { any = 0, ipv4 = 4, ipv6 = 6 };

using MacAddress = vswitch::MacAddress; // from vswitch/packet/bytes.hpp

// An IPv4 or IPv6 address as 128 bits, most significant first. IPv4 addresses live in the low
// 32 bits of `low` (the family says which kind it is), so one masking routine serves both.
struct IpAddress {
    uint64_t high = 0;
    uint64_t low = 0;

    [[nodiscard]] static constexpr IpAddress v4(uint32_t address) { return {0, address}; }
    [[nodiscard]] static constexpr IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
        return v4(uint32_t{a} << 24 | uint32_t{b} << 16 | uint32_t{c} << 8 | d);
    }
    [[nodiscard]] static IpAddress v6(const uint8_t (&bytes)[16]) {
        IpAddress result;
        for (int i = 0; i < 8; ++i) {
            result.high = result.high << 8 | bytes[i];
            result.low = result.low << 8 | bytes[8 + i];
        }
        return result;
    }
    [[nodiscard]] static constexpr IpAddress from(Ipv4Address address) { return v4(address.value); }
    [[nodiscard]] static constexpr IpAddress from(const Ipv6Address& address) {
        IpAddress result;
        for (int i = 0; i < 8; ++i) {
            result.high = result.high << 8 | address.bytes[i];
            result.low = result.low << 8 | address.bytes[8 + i];
        }
        return result;
    }
    friend constexpr bool operator==(const IpAddress&, const IpAddress&) = default;
};

// Keeps the first `prefix_length` bits of `address` (counted from the family's first bit).
[[nodiscard]] constexpr IpAddress mask_address(IpAddress address, AddressFamily family,
                                               uint8_t prefix_length) {
    if (family == AddressFamily::ipv4) {
        if (prefix_length == 0)
            return {};
        uint64_t mask = prefix_length >= 32
                            ? 0xFFFFFFFFull
                            : (0xFFFFFFFFull << (32 - prefix_length)) & 0xFFFFFFFFull;
        return {0, address.low & mask};
    }
    if (family == AddressFamily::ipv6) {
        if (prefix_length == 0)
            return {};
        if (prefix_length <= 64) {
            uint64_t mask = prefix_length == 64 ? ~0ull : ~0ull << (64 - prefix_length);
            return {address.high & mask, 0};
        }
        uint64_t mask = prefix_length >= 128 ? ~0ull : ~0ull << (128 - prefix_length);
        return {address.high, address.low & mask};
    }
    return {};
}

struct PortRange {
    uint16_t first = 0;
    uint16_t last = 0xFFFF;

    [[nodiscard]] constexpr bool is_everything() const { return first == 0 && last == 0xFFFF; }
    [[nodiscard]] constexpr bool contains(uint16_t port) const {
        return port >= first && port <= last;
    }
};

// One operator rule. Fields left at their defaults match everything.
struct Rule {
    uint32_t id = 0; // the operator's name for the rule; metering is reported per id
    Direction direction = Direction::both;
    Action action = Action::allow;
    uint32_t weight = 0; // higher weight wins; on equal weight deny beats allow

    bool match_local_mac = false;
    MacAddress local_mac;
    bool match_remote_mac = false;
    MacAddress remote_mac;

    AddressFamily family = AddressFamily::any; // any: the rule also matches non-IP frames
    IpAddress local_address;
    uint8_t local_prefix_length = 0; // 0 = any address
    IpAddress remote_address;
    uint8_t remote_prefix_length = 0;

    bool match_protocol = false;
    uint8_t protocol = 0; // IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6)
    PortRange local_ports;
    PortRange remote_ports;

    // Stateful allow: the first packet that this rule admits opens a flow; packets of that flow
    // in both directions are then admitted without consulting the rules again until the flow has
    // been idle for idle_timeout_seconds.
    bool stateful = false;
    uint32_t idle_timeout_seconds = 60;
};

inline constexpr uint8_t kProtocolIcmp = 1;
inline constexpr uint8_t kProtocolTcp = 6;
inline constexpr uint8_t kProtocolUdp = 17;
inline constexpr uint8_t kProtocolIcmpV6 = 58;

// What the ACL needs to know about one frame, already parsed by the switch. Addresses are as
// they appear in the frame (source/destination); the ACL turns them into local/remote itself.
struct PacketFacts {
    Direction direction = Direction::outbound; // inbound or outbound, never both
    MacAddress source_mac;
    MacAddress destination_mac;
    AddressFamily family = AddressFamily::any; // any = not an IP packet
    IpAddress source_address;
    IpAddress destination_address;
    uint8_t protocol = 0;
    bool has_ports = false; // TCP or UDP with a complete header
    uint16_t source_port = 0;
    uint16_t destination_port = 0;
    bool is_icmp_echo_request = false; // ICMP type 8 / ICMPv6 type 128
    bool is_icmp_echo_reply = false;   // ICMP type 0 / ICMPv6 type 129
    uint16_t icmp_echo_identifier = 0;
    uint32_t length_bytes = 0; // frame length, for byte counters
};

struct RuleCounters {
    uint64_t packets = 0;
    uint64_t bytes = 0;
};

enum class VerdictReason : uint8_t {
    no_rule_matched, // default allow, as Hyper-V port ACLs do
    rule,            // the winning allow/deny rule decided
    stateful_flow,   // admitted by an established stateful flow
};

struct Verdict {
    bool allowed = true;
    VerdictReason reason = VerdictReason::no_rule_matched;
    int32_t decided_by_rule = -1; // index into the installed rule list, or -1
    int32_t metered_by_rule = -1; // index of the meter rule that counted the packet, or -1
};

} // namespace halcyon::vswitch::acl
