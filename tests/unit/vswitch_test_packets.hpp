// A small packet builder and switch harness for the vswitch unit tests (host only: uses the full
// standard library). Frames are built layer by layer with correct lengths and checksums, so a test
// states what it sends in protocol terms, not hex.
#pragma once

#include "vswitch/vswitch.hpp"

#include <cstring>
#include <initializer_list>
#include <memory>
#include <optional>
#include <vector>

namespace halcyon::vswitch::test {

using Bytes = std::vector<uint8_t>;

inline MacAddress mac(uint8_t last, uint8_t prefix = 0x02) {
    return MacAddress{{prefix, 0x00, 0x5E, 0x10, 0x00, last}};
}
inline Ipv4Address ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return {(uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d};
}
// 2001:db8::<last> (documentation prefix) and fe80::<last>.
inline Ipv6Address ip6(uint16_t last, uint16_t first = 0x2001) {
    Ipv6Address a;
    a.bytes[0] = static_cast<uint8_t>(first >> 8);
    a.bytes[1] = static_cast<uint8_t>(first);
    if (first == 0x2001) {
        a.bytes[2] = 0x0d;
        a.bytes[3] = 0xb8;
    }
    a.bytes[14] = static_cast<uint8_t>(last >> 8);
    a.bytes[15] = static_cast<uint8_t>(last);
    return a;
}
inline Ipv6Address ip6_link_local(uint16_t last) {
    return ip6(last, 0xfe80);
}
// ff02::1 (all nodes) and the solicited-node multicast group of an address.
inline Ipv6Address ip6_all_nodes() {
    Ipv6Address a;
    a.bytes[0] = 0xff;
    a.bytes[1] = 0x02;
    a.bytes[15] = 1;
    return a;
}
inline MacAddress ipv6_multicast_mac(const Ipv6Address& group) {
    return MacAddress{
        {0x33, 0x33, group.bytes[12], group.bytes[13], group.bytes[14], group.bytes[15]}};
}

inline void put16(Bytes& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}
inline void put32(Bytes& b, uint32_t v) {
    put16(b, static_cast<uint16_t>(v >> 16));
    put16(b, static_cast<uint16_t>(v));
}
inline void put(Bytes& b, const MacAddress& m) {
    b.insert(b.end(), m.bytes.begin(), m.bytes.end());
}
inline void put(Bytes& b, const Ipv6Address& a) {
    b.insert(b.end(), a.bytes.begin(), a.bytes.end());
}
inline void put(Bytes& b, const Bytes& more) {
    b.insert(b.end(), more.begin(), more.end());
}

struct Tag {
    uint16_t vlan;
    uint8_t priority = 0;
    uint16_t tpid = ethertype::vlan;
};

// Ethernet II frame, optionally tagged (outermost tag first), padded to the 60-byte minimum.
inline Bytes ethernet(const MacAddress& dst, const MacAddress& src, uint16_t type,
                      const Bytes& payload, std::initializer_list<Tag> tags = {}) {
    Bytes b;
    put(b, dst);
    put(b, src);
    for (const Tag& tag : tags) {
        put16(b, tag.tpid);
        put16(b, vlan_tci(tag.vlan, tag.priority));
    }
    put16(b, type);
    put(b, payload);
    while (b.size() < kEthernetMinFrame)
        b.push_back(0);
    return b;
}

inline Bytes arp(uint16_t operation, const MacAddress& sender_mac, Ipv4Address sender_ip,
                 const MacAddress& target_mac, Ipv4Address target_ip) {
    Bytes b;
    put16(b, 1);
    put16(b, ethertype::ipv4);
    b.push_back(6);
    b.push_back(4);
    put16(b, operation);
    put(b, sender_mac);
    put32(b, sender_ip.value);
    put(b, target_mac);
    put32(b, target_ip.value);
    return b;
}

// IPv4 header (+ options, padded to 4 bytes) + payload, with a valid header checksum.
inline Bytes ipv4(Ipv4Address src, Ipv4Address dst, uint8_t protocol, const Bytes& payload,
                  uint8_t ttl = 64, Bytes options = {}, uint16_t fragment = 0) {
    while (options.size() % 4 != 0)
        options.push_back(0);
    Bytes b;
    b.push_back(static_cast<uint8_t>(0x40 | ((20 + options.size()) / 4)));
    b.push_back(0);
    put16(b, static_cast<uint16_t>(20 + options.size() + payload.size()));
    put16(b, 0x1234);
    put16(b, fragment);
    b.push_back(ttl);
    b.push_back(protocol);
    put16(b, 0);
    put32(b, src.value);
    put32(b, dst.value);
    put(b, options);
    ipv4_set_header_checksum(std::span<uint8_t>(b.data(), 20 + options.size()));
    put(b, payload);
    return b;
}

// An L4 segment with its checksum filled in at `checksum_offset` over the IPv4 pseudo-header.
inline Bytes with_checksum4(Bytes segment, size_t checksum_offset, Ipv4Address src, Ipv4Address dst,
                            uint8_t protocol) {
    uint32_t pseudo = pseudo_header_ipv4(src, dst, protocol, static_cast<uint16_t>(segment.size()));
    store_be16(segment.data() + checksum_offset,
               l4_checksum(pseudo, segment, protocol == ip_protocol::udp));
    return segment;
}
inline Bytes with_checksum6(Bytes segment, size_t checksum_offset, const Ipv6Address& src,
                            const Ipv6Address& dst, uint8_t next) {
    uint32_t pseudo = pseudo_header_ipv6(src, dst, next, static_cast<uint32_t>(segment.size()));
    store_be16(segment.data() + checksum_offset,
               l4_checksum(pseudo, segment, next == ip_protocol::udp));
    return segment;
}

inline Bytes udp_segment(uint16_t sport, uint16_t dport, const Bytes& payload) {
    Bytes b;
    put16(b, sport);
    put16(b, dport);
    put16(b, static_cast<uint16_t>(8 + payload.size()));
    put16(b, 0);
    put(b, payload);
    return b;
}
inline Bytes tcp_segment(uint16_t sport, uint16_t dport, uint8_t flags, const Bytes& payload) {
    Bytes b;
    put16(b, sport);
    put16(b, dport);
    put32(b, 1000);
    put32(b, 0);
    b.push_back(0x50);
    b.push_back(flags);
    put16(b, 65535);
    put16(b, 0);
    put16(b, 0);
    put(b, payload);
    return b;
}
inline Bytes icmp_message(uint8_t type, uint8_t code, const Bytes& body) {
    Bytes b{type, code, 0, 0};
    put(b, body);
    while (b.size() < 8)
        b.push_back(0);
    return b;
}

inline Bytes ipv6(const Ipv6Address& src, const Ipv6Address& dst, uint8_t next,
                  const Bytes& payload, uint8_t hop_limit = 64) {
    Bytes b{0x60, 0, 0, 0};
    put16(b, static_cast<uint16_t>(payload.size()));
    b.push_back(next);
    b.push_back(hop_limit);
    put(b, src);
    put(b, dst);
    put(b, payload);
    return b;
}

// Complete frames.
inline Bytes udp4_frame(const MacAddress& dst_mac, const MacAddress& src_mac, Ipv4Address src,
                        Ipv4Address dst, uint16_t sport, uint16_t dport, const Bytes& payload = {},
                        std::initializer_list<Tag> tags = {}) {
    Bytes udp = with_checksum4(udp_segment(sport, dport, payload), 6, src, dst, ip_protocol::udp);
    return ethernet(dst_mac, src_mac, ethertype::ipv4, ipv4(src, dst, ip_protocol::udp, udp), tags);
}
inline Bytes tcp4_frame(const MacAddress& dst_mac, const MacAddress& src_mac, Ipv4Address src,
                        Ipv4Address dst, uint16_t sport, uint16_t dport, uint8_t flags = 0x02,
                        std::initializer_list<Tag> tags = {}) {
    Bytes tcp =
        with_checksum4(tcp_segment(sport, dport, flags, {}), 16, src, dst, ip_protocol::tcp);
    return ethernet(dst_mac, src_mac, ethertype::ipv4, ipv4(src, dst, ip_protocol::tcp, tcp), tags);
}
inline Bytes icmp4_frame(const MacAddress& dst_mac, const MacAddress& src_mac, Ipv4Address src,
                         Ipv4Address dst, uint8_t type, uint8_t code = 0,
                         std::initializer_list<Tag> tags = {}) {
    Bytes icmp = icmp_message(type, code, {0, 1, 0, 1});
    store_be16(icmp.data() + 2, checksum_finish(checksum_add(icmp)));
    return ethernet(dst_mac, src_mac, ethertype::ipv4, ipv4(src, dst, ip_protocol::icmp, icmp),
                    tags);
}
inline Bytes udp6_frame(const MacAddress& dst_mac, const MacAddress& src_mac,
                        const Ipv6Address& src, const Ipv6Address& dst, uint16_t sport,
                        uint16_t dport, const Bytes& payload = {}) {
    Bytes udp = with_checksum6(udp_segment(sport, dport, payload), 6, src, dst, ip_protocol::udp);
    return ethernet(dst_mac, src_mac, ethertype::ipv6, ipv6(src, dst, ip_protocol::udp, udp));
}
inline Bytes icmp6_frame(const MacAddress& dst_mac, const MacAddress& src_mac,
                         const Ipv6Address& src, const Ipv6Address& dst, uint8_t type,
                         const Bytes& body = {}, uint8_t code = 0) {
    Bytes icmp = with_checksum6(icmp_message(type, code, body), 2, src, dst, ip_protocol::icmpv6);
    return ethernet(dst_mac, src_mac, ethertype::ipv6,
                    ipv6(src, dst, ip_protocol::icmpv6, icmp, 255));
}
inline Bytes arp_frame(const MacAddress& src_mac, uint16_t operation, const MacAddress& sender_mac,
                       Ipv4Address sender_ip, Ipv4Address target_ip,
                       const MacAddress& dst_mac = kBroadcastMac,
                       std::initializer_list<Tag> tags = {}) {
    return ethernet(dst_mac, src_mac, ethertype::arp,
                    arp(operation, sender_mac, sender_ip, MacAddress{}, target_ip), tags);
}

// Neighbor Solicitation / Advertisement body: reserved/flags, target, one link-layer option.
inline Bytes nd_body(const Ipv6Address& target, std::optional<MacAddress> link_layer,
                     uint8_t option_type, uint32_t flags = 0) {
    Bytes b;
    put32(b, flags);
    put(b, target);
    if (link_layer) {
        b.push_back(option_type);
        b.push_back(1);
        put(b, *link_layer);
    }
    return b;
}
inline Bytes neighbor_solicitation(const MacAddress& src_mac, const Ipv6Address& src,
                                   const Ipv6Address& target, std::optional<MacAddress> lla) {
    return icmp6_frame(
        MacAddress{{0x33, 0x33, 0xff, target.bytes[13], target.bytes[14], target.bytes[15]}},
        src_mac, src, target, icmpv6_type::neighbor_solicitation,
        nd_body(target, lla, nd_option::source_link_layer_address));
}
inline Bytes neighbor_advertisement(const MacAddress& src_mac, const Ipv6Address& src,
                                    const Ipv6Address& target, std::optional<MacAddress> lla) {
    return icmp6_frame(ipv6_multicast_mac(ip6_all_nodes()), src_mac, src, ip6_all_nodes(),
                       icmpv6_type::neighbor_advertisement,
                       nd_body(target, lla, nd_option::target_link_layer_address, 0x20000000));
}

// A GRE (NVGRE-shaped) packet inside IPv4: key = VSID << 8 | flow id, payload an inner frame.
inline Bytes nvgre_frame(const MacAddress& dst_mac, const MacAddress& src_mac, Ipv4Address src_pa,
                         Ipv4Address dst_pa, uint32_t vsid, uint8_t flow_id, const Bytes& inner) {
    Bytes gre;
    put16(gre, gre_flag::key);
    put16(gre, ethertype::transparent_ethernet);
    put32(gre, (vsid << 8) | flow_id);
    put(gre, inner);
    return ethernet(dst_mac, src_mac, ethertype::ipv4, ipv4(src_pa, dst_pa, ip_protocol::gre, gre));
}

// Frame storage for tests: a FixedFramePool over vectors.
class TestPool {
public:
    explicit TestPool(uint32_t frames = 512, uint32_t buffer_size = 2048, uint32_t headroom = 128)
        : frames_(frames), buffers_(size_t{frames} * buffer_size),
          pool_(frames_, buffers_, buffer_size, headroom) {}
    FixedFramePool& pool() { return pool_; }
    Frame* make(const Bytes& bytes) {
        Frame* frame = pool_.allocate();
        if (frame == nullptr || !frame->set_length(static_cast<uint32_t>(bytes.size())))
            return nullptr;
        std::memcpy(frame->data(), bytes.data(), bytes.size());
        return frame;
    }

private:
    std::vector<Frame> frames_;
    std::vector<uint8_t> buffers_;
    FixedFramePool pool_;
};

// A switch with its pool and MAC table, plus helpers to send frames and collect outputs.
class Harness {
public:
    explicit Harness(SwitchType type = SwitchType::external, uint32_t mac_slots = 1024,
                     uint64_t ageing_ns = kDefaultMacAgeingNs, uint32_t frames = 512,
                     uint32_t headroom = 128)
        : pool_(frames, 2048, headroom), macs_(mac_slots),
          switch_(std::make_unique<Switch>(type, pool_.pool(), macs_, ageing_ns)) {}

    Switch& sw() { return *switch_; }
    TestPool& pool() { return pool_; }

    PortId add(const PortConfig& config) {
        auto result = switch_->add_port(config);
        if (result.is_error())
            return kNoPort;
        return result.value();
    }
    PortId add_vm(uint32_t access_vlan = 0) {
        PortConfig config;
        config.vlan.access_vlan = static_cast<uint16_t>(access_vlan);
        return add(config);
    }

    // Sends one frame into `port` at time `now` (ns).
    void send(PortId port, const Bytes& bytes, uint64_t now = 1) {
        Burst burst;
        (void)burst.push(pool_.make(bytes));
        switch_->process(port, burst, now);
    }
    // Everything delivered to `port` since the last call, as byte vectors (frames are released).
    std::vector<Bytes> received(PortId port) {
        std::vector<Bytes> out;
        Burst burst;
        while (switch_->drain(port, burst) > 0) {
            for (Frame* frame : burst) {
                out.emplace_back(frame->data(), frame->data() + frame->length);
                frame->pool->release(frame);
            }
            burst.clear();
        }
        return out;
    }
    size_t count(PortId port) { return received(port).size(); }
    uint64_t drops(DropReason reason) const { return switch_->drops()[reason]; }
    uint64_t port_drops(PortId port, DropReason reason) const {
        return switch_->counters(port)->drops[reason];
    }

private:
    TestPool pool_;
    std::vector<MacEntry> macs_;
    std::unique_ptr<Switch> switch_;
};

} // namespace halcyon::vswitch::test
