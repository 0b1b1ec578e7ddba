// The policy hooks (ACL, QoS, NVGRE) as the pipeline calls them: which port and direction each
// call names, that their drops are counted under the reason they give, QoS queueing with a later
// transmit(), and the NVGRE actions. The hooks here are test doubles; the real components live in
// vswitch/acl, vswitch/qos and vswitch/nvgre with their own tests.
#include "tests/unit/vswitch_test_packets.hpp"

#include <gtest/gtest.h>

namespace halcyon::vswitch {
namespace {

using namespace test;

Bytes from_to(uint8_t src, uint8_t dst, uint16_t dport = 2000) {
    return udp4_frame(mac(dst), mac(src), ip4(10, 0, 0, src), ip4(10, 0, 0, dst), 1000, dport);
}

struct FakeAcl final : AclHook {
    std::vector<HookContext> calls;
    uint16_t deny_port = 0; // deny UDP to this destination port (0 = none)
    Direction deny_direction = Direction::from_port;
    HookResult check(const HookContext& context, const Frame& frame) override {
        calls.push_back(context);
        if (deny_port != 0 && frame.headers.dst_port == deny_port &&
            context.direction == deny_direction)
            return HookResult::drop(DropReason::acl_deny);
        return HookResult::allow();
    }
};

struct FakeQos final : QosHook {
    bool police = false;
    bool queue = false;
    std::vector<std::pair<PortId, Frame*>> held;
    std::vector<uint32_t> egress_lengths;
    HookResult ingress(const HookContext&, const Frame&) override {
        return police ? HookResult::drop(DropReason::qos_rate_limited) : HookResult::allow();
    }
    QosResult egress(const HookContext& context, Frame& frame) override {
        egress_lengths.push_back(frame.length);
        if (queue) {
            held.emplace_back(context.port, &frame);
            return {QosAction::queued, DropReason::qos_drop};
        }
        return {};
    }
};

TEST(VswitchHooks, AclIsCalledFromThePortAndToEachDestination) {
    Harness h;
    FakeAcl acl;
    h.sw().set_acl_hook(&acl);
    PortId a = h.add_vm(), b = h.add_vm(), c = h.add_vm();
    h.send(a, from_to(1, 9), 77);
    ASSERT_EQ(acl.calls.size(), 3u);
    EXPECT_EQ(acl.calls[0].port, a);
    EXPECT_EQ(acl.calls[0].direction, Direction::from_port);
    EXPECT_EQ(acl.calls[0].now_ns, 77u);
    EXPECT_EQ(acl.calls[1].direction, Direction::to_port);
    EXPECT_EQ(acl.calls[2].direction, Direction::to_port);
    EXPECT_EQ(PortSet::of(acl.calls[1].port) | PortSet::of(acl.calls[2].port),
              PortSet::of(b) | PortSet::of(c));
    EXPECT_EQ(acl.calls[1].ingress_port, a);
}

TEST(VswitchHooks, AclDenyInEitherDirectionIsCounted) {
    Harness h;
    FakeAcl acl;
    h.sw().set_acl_hook(&acl);
    PortId a = h.add_vm(), b = h.add_vm();
    acl.deny_port = 23;
    h.send(a, from_to(1, 2, 23));
    EXPECT_EQ(h.count(b), 0u);
    EXPECT_EQ(h.port_drops(a, DropReason::acl_deny), 1u);
    acl.deny_direction = Direction::to_port;
    h.send(a, from_to(1, 2, 23));
    EXPECT_EQ(h.count(b), 0u);
    EXPECT_EQ(h.port_drops(b, DropReason::acl_deny), 1u);
    h.send(a, from_to(1, 2, 80));
    EXPECT_EQ(h.count(b), 1u);
}

TEST(VswitchHooks, QosPolicesIngressAndSeesWireLengthOnEgress) {
    Harness h;
    FakeQos qos;
    h.sw().set_qos_hook(&qos);
    PortId a = h.add_vm(10);
    PortConfig trunk;
    trunk.vlan.mode = VlanMode::trunk;
    trunk.vlan.allowed_vlans.add(10);
    PortId t = h.add(trunk);
    Bytes bytes = from_to(1, 2);
    h.send(a, bytes);
    ASSERT_EQ(qos.egress_lengths.size(), 1u);
    EXPECT_EQ(qos.egress_lengths[0], bytes.size() + 4); // tag already inserted
    EXPECT_EQ(h.count(t), 1u);
    qos.police = true;
    h.send(a, bytes);
    EXPECT_EQ(h.port_drops(a, DropReason::qos_rate_limited), 1u);
}

TEST(VswitchHooks, QosQueuedFramesAreTransmittedLater) {
    Harness h;
    FakeQos qos;
    qos.queue = true;
    h.sw().set_qos_hook(&qos);
    PortId a = h.add_vm(), b = h.add_vm();
    h.send(a, from_to(1, 2));
    EXPECT_EQ(h.count(b), 0u);
    ASSERT_EQ(qos.held.size(), 1u);
    EXPECT_EQ(h.sw().counters(b)->tx.packets, 0u);
    h.sw().transmit(qos.held[0].first, qos.held[0].second, 5);
    EXPECT_EQ(h.count(b), 1u);
    EXPECT_EQ(h.sw().counters(b)->tx.packets, 1u);
}

// NVGRE double: frames from VM ports are "encapsulated" when the destination MAC is 0x99 (a fake
// remote CA), ARP requests are "answered"; frames from the provider with GRE key are
// "decapsulated" by stripping the outer 42 bytes (Ethernet + IPv4 + GRE with key).
struct FakeNvgre final : NvgreHook {
    std::vector<HookContext> calls;
    NvgreResult from_provider(const HookContext& context, Frame& frame) override {
        calls.push_back(context);
        if (!frame.headers.has(parse_flag::gre_key))
            return {};
        uint32_t vsid = frame.headers.gre_key >> 8;
        if (vsid != 0x5001)
            return {NvgreAction::drop, DropReason::nvgre_bad_vsid};
        if (!frame.pull_front(frame.headers.payload_offset) || parse_headers(frame).is_error())
            return {NvgreAction::drop, DropReason::nvgre_malformed};
        frame.vsid = vsid;
        return {NvgreAction::forward_local, DropReason::nvgre_no_policy};
    }
    NvgreResult from_customer(const HookContext& context, Frame& frame) override {
        calls.push_back(context);
        if (frame.headers.l3 == L3Kind::arp) {
            // Answer: swap MACs (enough for the test), send back.
            uint8_t* p = frame.data();
            for (int i = 0; i < 6; ++i)
                std::swap(p[i], p[6 + i]);
            return {NvgreAction::reply, DropReason::nvgre_arp_answered};
        }
        if (MacAddress::from(frame.data()) != mac(0x99))
            return {NvgreAction::forward_local, DropReason::nvgre_no_policy};
        Bytes outer = nvgre_frame(mac(0xEE), mac(0xEF), ip4(192, 168, 0, 1), ip4(192, 168, 0, 2),
                                  frame.vsid, 0, {});
        uint32_t header = 14 + 20 + 8;
        if (!frame.push_front(header))
            return {NvgreAction::drop, DropReason::nvgre_mtu_exceeded};
        std::copy(outer.begin(), outer.begin() + header, frame.data());
        store_be16(frame.data() + 16, static_cast<uint16_t>(frame.length - 14));
        if (parse_headers(frame).is_error())
            return {NvgreAction::drop, DropReason::nvgre_malformed};
        frame.vlan_id = 0;
        return {NvgreAction::to_provider, DropReason::nvgre_no_policy};
    }
};

struct NvgreTopology {
    Harness h;
    FakeNvgre nvgre;
    PortId uplink, tenant1, tenant2, other_tenant, plain;
    NvgreTopology() {
        h.sw().set_nvgre_hook(&nvgre);
        PortConfig external;
        external.kind = PortKind::external;
        uplink = h.add(external);
        PortConfig vm;
        vm.vsid = 0x5001;
        tenant1 = h.add(vm);
        tenant2 = h.add(vm);
        vm.vsid = 0x6001;
        other_tenant = h.add(vm);
        plain = h.add_vm();
    }
};

TEST(VswitchHooks, VirtualSubnetsAreSealedWithoutAnyHook) {
    NvgreTopology t;
    t.h.sw().set_nvgre_hook(nullptr);
    t.h.send(t.tenant1, arp_frame(mac(1), 1, mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2)));
    EXPECT_EQ(t.h.count(t.tenant2), 1u);
    EXPECT_EQ(t.h.count(t.other_tenant), 0u);
    EXPECT_EQ(t.h.count(t.uplink), 0u); // CA traffic never reaches the provider network raw
    EXPECT_EQ(t.h.count(t.plain), 0u);
    t.h.send(t.plain, arp_frame(mac(5), 1, mac(5), ip4(10, 0, 0, 5), ip4(10, 0, 0, 2)));
    EXPECT_EQ(t.h.count(t.tenant1) + t.h.count(t.tenant2) + t.h.count(t.other_tenant), 0u);
    EXPECT_EQ(t.h.count(t.uplink), 1u);
}

TEST(VswitchHooks, NvgreEncapsulatedTrafficGoesOnlyToTheUplink) {
    NvgreTopology t;
    t.h.send(t.tenant1, from_to(1, 0x99));
    auto out = t.h.received(t.uplink);
    ASSERT_EQ(out.size(), 1u);
    ParsedHeaders h;
    ASSERT_FALSE(parse_headers(std::span<const uint8_t>(out[0]), h).is_error());
    EXPECT_EQ(h.gre_key >> 8, 0x5001u);
    EXPECT_EQ(t.h.count(t.tenant2) + t.h.count(t.other_tenant) + t.h.count(t.plain), 0u);
    ASSERT_EQ(t.nvgre.calls.size(), 1u);
    EXPECT_EQ(t.nvgre.calls[0].port, t.tenant1);
}

TEST(VswitchHooks, NvgreDecapsulatedTrafficReachesOnlyItsVsid) {
    NvgreTopology t;
    Bytes inner = arp_frame(mac(0x99), 1, mac(0x99), ip4(10, 0, 0, 99), ip4(10, 0, 0, 1));
    t.h.send(t.uplink, nvgre_frame(mac(0xEF), mac(0xEE), ip4(192, 168, 0, 2), ip4(192, 168, 0, 1),
                                   0x5001, 0, inner));
    auto out1 = t.h.received(t.tenant1);
    ASSERT_EQ(out1.size(), 1u);
    EXPECT_EQ(out1[0], inner);
    EXPECT_EQ(t.h.count(t.tenant2), 1u);
    EXPECT_EQ(t.h.count(t.other_tenant) + t.h.count(t.plain), 0u);
    t.h.send(t.uplink, nvgre_frame(mac(0xEF), mac(0xEE), ip4(192, 168, 0, 2), ip4(192, 168, 0, 1),
                                   0x7777, 0, inner));
    EXPECT_EQ(t.h.port_drops(t.uplink, DropReason::nvgre_bad_vsid), 1u);
    EXPECT_EQ(t.h.count(t.tenant1) + t.h.count(t.tenant2) + t.h.count(t.other_tenant), 0u);
}

TEST(VswitchHooks, NvgreReplyGoesBackToTheSender) {
    NvgreTopology t;
    t.h.send(t.tenant1, arp_frame(mac(1), 1, mac(1), ip4(10, 0, 0, 1), ip4(10, 0, 0, 2)));
    auto out = t.h.received(t.tenant1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(MacAddress::from(out[0].data()), mac(1));
    EXPECT_EQ(t.h.count(t.tenant2) + t.h.count(t.uplink), 0u);
}

struct RecordingObserver final : DropObserver {
    std::vector<DropEvent> events;
    void on_drop(const DropEvent& event, const Frame& frame) override {
        EXPECT_GT(frame.length, 0u);
        events.push_back(event);
    }
};

TEST(VswitchHooks, DropObserverSeesEveryDrop) {
    Harness h;
    RecordingObserver observer;
    h.sw().set_drop_observer(&observer);
    PortId a = h.add_vm(10), b = h.add_vm(20);
    h.send(a, from_to(1, 2));          // no destination in VLAN 10
    h.send(b, from_to(2, 1, 2000), 3); // none in VLAN 20 either
    h.send(a, Bytes(12, 1), 4);        // runt
    ASSERT_EQ(observer.events.size(), 3u);
    EXPECT_EQ(observer.events[0].reason, DropReason::no_destination);
    EXPECT_EQ(observer.events[0].ingress_port, a);
    EXPECT_EQ(observer.events[1].now_ns, 3u);
    EXPECT_EQ(observer.events[2].reason, DropReason::runt);
    EXPECT_EQ(h.sw().drops().total(), 3u);
}

} // namespace
} // namespace halcyon::vswitch
