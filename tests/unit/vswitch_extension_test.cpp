// The extension chain: ordering (attach order on ingress, reverse on egress), capturing extensions
// see but cannot change, filtering extensions drop and modify, at most one forwarding extension
// which cannot break isolation, and port mirroring as a built-in capturing extension.
#include "tests/unit/vswitch_test_packets.hpp"

#include <gtest/gtest.h>

#include <string>
#include <type_traits>

namespace halcyon::vswitch {
namespace {

using namespace test;

// Capturing extensions get a const Frame: the type system forbids modification.
static_assert(std::is_same_v<decltype(&CapturingExtension::on_ingress),
                             void (CapturingExtension::*)(const ExtensionContext&, const Frame&)>);

Bytes from_to(uint8_t src, uint8_t dst) {
    return udp4_frame(mac(dst), mac(src), ip4(10, 0, 0, src), ip4(10, 0, 0, dst), 1000, 2000);
}

struct Recorder final : CapturingExtension {
    std::string name;
    std::string* log;
    Recorder(std::string n, std::string* l) : name(std::move(n)), log(l) {}
    void on_ingress(const ExtensionContext&, const Frame&) override { *log += name + "<"; }
    void on_egress(const ExtensionContext&, const Frame&) override { *log += name + ">"; }
};

struct Filter final : FilteringExtension {
    std::string name;
    std::string* log;
    FilterVerdict ingress_verdict = FilterVerdict::pass;
    FilterVerdict egress_verdict = FilterVerdict::pass;
    std::optional<MacAddress> rewrite_destination;
    PortId drop_egress_to = kNoPort;
    Filter(std::string n, std::string* l) : name(std::move(n)), log(l) {}
    FilterVerdict on_ingress(const ExtensionContext&, Frame& frame) override {
        *log += name + "<";
        if (rewrite_destination) {
            std::copy(rewrite_destination->bytes.begin(), rewrite_destination->bytes.end(),
                      frame.data());
            return FilterVerdict::modified;
        }
        return ingress_verdict;
    }
    FilterVerdict on_egress(const ExtensionContext& context, Frame&) override {
        *log += name + ">";
        if (context.egress_port == drop_egress_to)
            return FilterVerdict::drop;
        return egress_verdict;
    }
};

struct Forwarder final : ForwardingExtension {
    ForwardingDecision decision;
    PortSet last_eligible;
    ForwardingDecision forward(const ExtensionContext&, const Frame&, PortSet eligible) override {
        last_eligible = eligible;
        return decision;
    }
};

TEST(VswitchExtensions, OrderIsAttachOrderInAndReverseOut) {
    Harness h;
    std::string log;
    Recorder first("A", &log);
    Filter second("B", &log);
    Recorder third("C", &log);
    ASSERT_FALSE(h.sw().extensions().attach_capturing(first).is_error());
    ASSERT_FALSE(h.sw().extensions().attach_filtering(second).is_error());
    ASSERT_FALSE(h.sw().extensions().attach_capturing(third).is_error());
    EXPECT_TRUE(h.sw().extensions().attach_capturing(first).is_error()); // no duplicates
    PortId a = h.add_vm(), b = h.add_vm();
    h.send(a, from_to(1, 2));
    EXPECT_EQ(log, "A<B<C<C>B>A>");
    EXPECT_EQ(h.count(b), 1u);
    ASSERT_FALSE(h.sw().extensions().detach(&second).is_error());
    EXPECT_TRUE(h.sw().extensions().detach(&second).is_error());
    log.clear();
    h.send(a, from_to(1, 2));
    EXPECT_EQ(log, "A<C<C>A>");
}

TEST(VswitchExtensions, FilterDropsOnIngressAndPerDestinationOnEgress) {
    Harness h;
    std::string log;
    Filter filter("F", &log);
    ASSERT_FALSE(h.sw().extensions().attach_filtering(filter).is_error());
    PortId a = h.add_vm(), b = h.add_vm(), c = h.add_vm();
    filter.drop_egress_to = c;
    h.send(a, from_to(1, 9)); // flooded: b gets it, c's copy is dropped by the filter
    EXPECT_EQ(h.count(b), 1u);
    EXPECT_EQ(h.count(c), 0u);
    EXPECT_EQ(h.port_drops(c, DropReason::extension_drop), 1u);
    filter.ingress_verdict = FilterVerdict::drop;
    h.send(a, from_to(1, 9));
    EXPECT_EQ(h.count(b), 0u);
    EXPECT_EQ(h.port_drops(a, DropReason::extension_drop), 1u);
    EXPECT_EQ(h.pool().pool().available(), h.pool().pool().size());
}

TEST(VswitchExtensions, ModifiedFramesAreReparsedAndForwardedByTheirNewHeaders) {
    Harness h;
    std::string log;
    Filter filter("F", &log);
    ASSERT_FALSE(h.sw().extensions().attach_filtering(filter).is_error());
    PortId a = h.add_vm(), b = h.add_vm(), c = h.add_vm();
    h.send(b, from_to(2, 9));
    h.send(c, from_to(3, 9));
    h.received(a), h.received(b), h.received(c);
    filter.rewrite_destination = mac(3); // redirect everything to station 3 (on c)
    h.send(a, from_to(1, 2));
    EXPECT_EQ(h.count(b), 0u);
    auto out = h.received(c);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(MacAddress::from(out[0].data()), mac(3));
}

TEST(VswitchExtensions, OnlyOneForwardingExtension) {
    Harness h;
    Forwarder one, two;
    ASSERT_FALSE(h.sw().extensions().attach_forwarding(one).is_error());
    auto second = h.sw().extensions().attach_forwarding(two);
    ASSERT_TRUE(second.is_error());
    EXPECT_EQ(second.error().code(), ErrorCode::already_exists);
    ASSERT_FALSE(h.sw().extensions().detach(&one).is_error());
    EXPECT_FALSE(h.sw().extensions().attach_forwarding(two).is_error());
}

TEST(VswitchExtensions, ForwardingExtensionDecidesButCannotBreakIsolation) {
    Harness h;
    Forwarder forwarder;
    ASSERT_FALSE(h.sw().extensions().attach_forwarding(forwarder).is_error());
    PortId a = h.add_vm(10), b = h.add_vm(10), c = h.add_vm(10), other = h.add_vm(20);
    // Overrides default switching: unknown unicast goes only where the extension says.
    forwarder.decision = {ForwardingDecision::Kind::ports, PortSet::of(c)};
    h.send(a, from_to(1, 9));
    EXPECT_EQ(h.count(b), 0u);
    EXPECT_EQ(h.count(c), 1u);
    EXPECT_EQ(forwarder.last_eligible, PortSet::of(b) | PortSet::of(c));
    // Asking for a port in another VLAN (or the ingress port) delivers nothing there.
    forwarder.decision = {ForwardingDecision::Kind::ports,
                          PortSet::of(other) | PortSet::of(a) | PortSet::of(b)};
    h.send(a, from_to(1, 9));
    EXPECT_EQ(h.count(other), 0u);
    EXPECT_EQ(h.count(a), 0u);
    EXPECT_EQ(h.count(b), 1u);
    forwarder.decision = {ForwardingDecision::Kind::ports, PortSet::of(other)};
    h.send(a, from_to(1, 9));
    EXPECT_EQ(h.drops(DropReason::no_destination), 1u);
    forwarder.decision = {ForwardingDecision::Kind::drop, {}};
    h.send(a, from_to(1, 9));
    EXPECT_EQ(h.drops(DropReason::forwarding_extension_drop), 1u);
    forwarder.decision = {ForwardingDecision::Kind::default_switching, {}};
    h.send(a, from_to(1, 9));
    EXPECT_EQ(h.count(b) + h.count(c), 2u);
}

TEST(VswitchPortMirror, MonitoredPortTrafficIsCopiedInBothDirections) {
    Harness h;
    PortMirror mirror;
    ASSERT_FALSE(h.sw().extensions().attach_capturing(mirror).is_error());
    PortId watched = h.add_vm(), peer = h.add_vm();
    PortConfig monitor_config;
    monitor_config.vlan.access_vlan = 99; // the monitor need not share the VLAN
    PortId monitor = h.add(monitor_config);
    mirror.set_mode(watched, MirrorMode::source);
    mirror.set_mode(monitor, MirrorMode::destination);
    Bytes out_frame = from_to(1, 2);
    h.send(watched, out_frame);  // sent by the watched port
    h.send(peer, from_to(2, 1)); // delivered to the watched port
    h.send(peer, from_to(2, 7)); // unknown unicast: flooded to watched too
    auto copies = h.received(monitor);
    ASSERT_EQ(copies.size(), 3u);
    EXPECT_EQ(copies[0], out_frame);
    EXPECT_EQ(MacAddress::from(copies[1].data() + 6), mac(2));
    EXPECT_EQ(h.count(peer), 1u);
    EXPECT_EQ(h.count(watched), 2u);
    EXPECT_EQ(mirror.mirrored(), 3u);
    // Traffic that does not involve the watched port is not mirrored.
    PortId bystander = h.add_vm();
    h.received(peer);
    h.send(bystander, from_to(5, 2));
    EXPECT_EQ(h.count(monitor), 0u);
    mirror.set_mode(watched, MirrorMode::none);
    h.send(watched, out_frame);
    EXPECT_EQ(h.count(monitor), 0u);
}

TEST(VswitchPortMirror, TrunkMonitorSeesVlanTags) {
    Harness h;
    PortMirror mirror;
    ASSERT_FALSE(h.sw().extensions().attach_capturing(mirror).is_error());
    PortId watched = h.add_vm(42);
    h.add_vm(42);
    PortConfig trunk;
    trunk.vlan.mode = VlanMode::trunk;
    PortId monitor = h.add(trunk); // allows no VLAN: receives mirror copies only
    mirror.set_mode(watched, MirrorMode::source);
    mirror.set_mode(monitor, MirrorMode::destination);
    h.send(watched, from_to(1, 2));
    auto copies = h.received(monitor);
    ASSERT_EQ(copies.size(), 1u);
    EXPECT_EQ(load_be16(copies[0].data() + 12), ethertype::vlan);
    EXPECT_EQ(tci_vlan_id(load_be16(copies[0].data() + 14)), 42);
}

} // namespace
} // namespace halcyon::vswitch
