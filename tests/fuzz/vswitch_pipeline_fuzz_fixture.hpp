// The switch the pipeline fuzzer (vswitch_pipeline_fuzz.cpp) drives: its ports and their
// settings, the model the checker judges deliveries by, and the changes control records make. The
// fuzzer builds two of these per input, one with flow caches and one without.
#pragma once

#include "vswitch/acl/acl_hook.hpp"
#include "vswitch/acl/port_acl.hpp"
#include "vswitch/nvgre/network_virtualization.hpp"
#include "vswitch/qos/switch_qos.hpp"
#include "vswitch/vswitch.hpp"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

namespace vswitch_fuzz {

using namespace halcyon::vswitch;

enum Port : PortId {
    kTrunk,     // external, trunk 10,20,100-102, native 1
    kWeb1,      // access 10, every guard
    kWeb2,      // access 10, ACL
    kDb,        // access 20
    kIso1,      // PVLAN isolated 101 (primary 100)
    kIso2,      // PVLAN isolated 101
    kCom1,      // PVLAN community 102
    kCom2,      // PVLAN community 102
    kProm,      // PVLAN promiscuous 100 (secondaries 101, 102)
    kBlue1,     // VSID 5001 (blue domain)
    kBlue2,     // VSID 5001
    kBlueOther, // VSID 5002 (blue domain, another subnet: routing allowed)
    kYellow,    // VSID 6001 (yellow domain)
    kHost,      // internal, access 1 (the trunk's native VLAN), storm limits
    kPortCount
};

constexpr uint32_t kBlueDomain = 1, kYellowDomain = 2;

inline uint32_t domain_of_vsid(uint32_t vsid) {
    return vsid == 5001 || vsid == 5002 ? kBlueDomain : vsid == 6001 ? kYellowDomain : 0;
}

[[noreturn]] inline void violation(const char* what, PortId from, PortId to) {
    std::fprintf(stderr, "INVARIANT VIOLATED: %s (ingress port %u, delivered to port %u)\n", what,
                 from, to);
    std::abort();
}

// The VSID of an IPv4 NVGRE frame on the provider network (untagged or priority-tagged: the
// provider VLAN is 0), or 0 if it is not one. A frame in another VLAN is not provider traffic.
inline uint32_t nvgre_vsid(const uint8_t* data, uint32_t length) {
    uint32_t l3 = 14;
    if (length >= 18 && load_be16(data + 12) == ethertype::vlan &&
        (load_be16(data + 14) & 0x0FFF) == 0)
        l3 = 18;
    if (length < l3 + 20 + 8 || load_be16(data + l3 - 2) != ethertype::ipv4)
        return 0;
    const uint8_t* ip = data + l3;
    const uint32_t ihl = (ip[0] & 0x0F) * 4u;
    if (ip[9] != ip_protocol::gre || ihl < 20 || l3 + ihl + 8 > length)
        return 0;
    const uint8_t* gre = ip + ihl;
    if (load_be16(gre + 2) != ethertype::transparent_ethernet || (load_be16(gre) & 0x2000) == 0)
        return 0;
    return load_be32(gre + 4) >> 8;
}

struct Fixture;

struct Delivery {
    PortId port;
    std::vector<uint8_t> bytes;
    bool operator==(const Delivery&) const = default;
};

// The checker: an EgressSink that validates, records, then frees every delivered frame.
struct Checker final : EgressSink {
    Fixture* fixture = nullptr;
    uint16_t trunk_color = 0; // VLAN of the trunk frame being processed (model, from its tag)
    bool trunk_is_nvgre = false;
    uint32_t trunk_vsid = 0;
    std::vector<Delivery> delivered; // since the last comparison with the twin
    bool deliver(PortId port, Frame* frame) override;
};

struct Fixture {
    std::vector<Frame> frames = std::vector<Frame>(1024);
    std::vector<uint8_t> buffers = std::vector<uint8_t>(1024 * 2048);
    std::optional<FixedFramePool> pool;
    std::vector<MacEntry> macs = std::vector<MacEntry>(256);
    std::optional<Switch> sw;
    std::vector<std::byte> acl_memory[2];
    std::optional<acl::PortAcl> acls[2];
    acl::PortAclHook acl_hook;
    std::optional<qos::SwitchQos> qos;
    std::vector<Frame*> ring = std::vector<Frame*>(64 * 8);
    std::optional<qos::EgressScheduler> scheduler;
    std::vector<nvgre::RecordSlot> records = std::vector<nvgre::RecordSlot>(64);
    std::vector<nvgre::SubnetSlot> subnets = std::vector<nvgre::SubnetSlot>(16);
    std::optional<nvgre::PolicyTable> policy;
    std::optional<nvgre::NetworkVirtualization> nv;
    std::vector<nvgre::CustomerFlowEntry> customer_flows =
        std::vector<nvgre::CustomerFlowEntry>(16);
    std::vector<nvgre::ProviderFlowEntry> provider_flows =
        std::vector<nvgre::ProviderFlowEntry>(16);
    bool cached = false; // flow caches and the ACL classification cache in use
    acl::Rule acl_rules[3];
    uint8_t turn = 0; // the neighbour MAC control record's alternation
    Checker checker;
    PortConfig configs[kPortCount];
    // VSWITCH_FUZZ_TRACE=1 prints every delivery and drop (to see what a seed exercises).
    bool trace = std::getenv("VSWITCH_FUZZ_TRACE") != nullptr;

    struct DropTracer final : DropObserver {
        void on_drop(const DropEvent& event, const Frame&) override {
            std::fprintf(stderr, "dropped at ingress %u egress %u: %s\n", event.ingress_port,
                         event.egress_port, drop_reason_name(event.reason));
        }
    } drop_tracer;

    // A capturing extension that only counts: attached, it makes the switch run each burst's
    // stages frame by frame (the path extensions get), under the same invariants.
    struct CountingCapture final : CapturingExtension {
        uint64_t seen = 0;
        void on_ingress(const ExtensionContext&, const Frame&) override { ++seen; }
        void on_egress(const ExtensionContext&, const Frame&) override { ++seen; }
    } capture;

    struct Transmitter final : qos::QosTransmitter {
        Fixture* f;
        uint64_t now = 0;
        void transmit(PortId port, Frame* frame) override { f->sw->transmit(port, frame, now); }
    } transmitter;

    static MacAddress mac(uint8_t n) { return MacAddress{{0x02, 0, 0x5e, 0x10, 0, n}}; }

    void check(bool ok) {
        if (!ok)
            std::abort();
    }

    void build(bool frame_by_frame) {
        // Destroy in dependency order before re-creating (the switch holds hook pointers).
        sw.reset();
        nv.reset();
        pool.emplace(std::span<Frame>(frames), std::span<uint8_t>(buffers), 2048, 192);
        sw.emplace(SwitchType::external, *pool, std::span<MacEntry>(macs), 50'000'000);
        PortConfig c;
        c.kind = PortKind::external;
        c.vlan.mode = VlanMode::trunk;
        c.vlan.native_vlan = 1;
        c.vlan.allowed_vlans.add(10);
        c.vlan.allowed_vlans.add(20);
        c.vlan.allowed_vlans.add_range(100, 102);
        configs[kTrunk] = c;
        c = PortConfig();
        c.vlan.access_vlan = 10;
        configs[kWeb2] = c;
        c.protection = {true, true, true, true, true};
        c.protection.macs[0] = mac(kWeb1);
        c.protection.mac_count = 1;
        c.protection.ipv4[0] = {0x0A000A01};
        c.protection.ipv4_count = 1;
        configs[kWeb1] = c;
        c = PortConfig();
        c.vlan.access_vlan = 20;
        configs[kDb] = c;
        auto pvlan = [](PvlanMode mode, uint16_t secondary) {
            PortConfig p;
            p.vlan.mode = VlanMode::private_vlan;
            p.vlan.pvlan_mode = mode;
            p.vlan.primary_vlan = 100;
            p.vlan.secondary_vlan = secondary;
            return p;
        };
        configs[kIso1] = configs[kIso2] = pvlan(PvlanMode::isolated, 101);
        configs[kCom1] = configs[kCom2] = pvlan(PvlanMode::community, 102);
        configs[kProm] = pvlan(PvlanMode::promiscuous, 0);
        configs[kProm].vlan.promiscuous_secondaries.add(101);
        configs[kProm].vlan.promiscuous_secondaries.add(102);
        configs[kBlue1] = configs[kBlue2] = PortConfig();
        configs[kBlue1].vsid = configs[kBlue2].vsid = 5001;
        configs[kBlueOther].vsid = 5002;
        configs[kYellow].vsid = 6001;
        configs[kHost] = PortConfig();
        configs[kHost].kind = PortKind::internal;
        configs[kHost].vlan.access_vlan = 1;
        configs[kHost].storm = {1000, 4, 1000, 4};
        for (uint32_t i = 0; i < kPortCount; ++i) {
            auto id = sw->add_port(configs[i]);
            check(!id.is_error() && id.value() == i);
        }

        // ACLs: web2 (stateful allow of DNS, deny a prefix, meter) and blue1.
        acl::AclLimits limits{16, 64};
        // Small caches, so flows also evict each other; none at all in the uncached twin.
        limits.classification_cache_entries = cached ? 8 : 0;
        for (int i = 0; i < 2; ++i) {
            acl_memory[i].resize(acl::PortAcl::memory_bytes(limits));
            auto created = acl::PortAcl::create(limits, acl_memory[i]);
            check(!created.is_error());
            acls[i].emplace(created.release_value());
        }
        acl::Rule(&rules)[3] = acl_rules;
        for (acl::Rule& rule : rules)
            rule = acl::Rule();
        rules[0].id = 1;
        rules[0].action = acl::Action::deny;
        rules[0].family = acl::AddressFamily::ipv4;
        rules[0].remote_address = acl::IpAddress::v4(10, 0, 0, 0);
        rules[0].remote_prefix_length = 8;
        rules[0].weight = 1;
        rules[1].id = 2;
        rules[1].action = acl::Action::allow;
        rules[1].stateful = true;
        rules[1].match_protocol = true;
        rules[1].protocol = acl::kProtocolUdp;
        rules[1].remote_ports = {53, 53};
        rules[1].weight = 10;
        rules[1].idle_timeout_seconds = 1;
        rules[2].id = 3;
        rules[2].action = acl::Action::meter;
        check(!acls[0]->set_rules(rules).is_error());
        check(!acls[1]->set_rules(std::span(rules).subspan(1)).is_error());
        check(!acl_hook.attach(kWeb2, &*acls[0]).is_error());
        check(!acl_hook.attach(kBlue1, &*acls[1]).is_error());
        sw->set_acl_hook(&acl_hook);

        // QoS: web1 is policed; the trunk is a shared egress port with a scheduler.
        qos.emplace();
        qos::PortQosConfig policed;
        policed.maximum_bits_per_second = 1'000'000;
        policed.egress_class.weight = 10;
        check(!qos->configure_port(kWeb1, policed, 0).is_error());
        qos::PortQosConfig weighted;
        weighted.egress_class.weight = 50;
        check(!qos->configure_port(kBlue1, weighted, 0).is_error());
        qos::SchedulerConfig link;
        link.link_bits_per_second = 100'000'000;
        auto created = qos::EgressScheduler::create(link, ring, 0);
        check(!created.is_error());
        scheduler.emplace(created.release_value());
        check(!qos->attach_scheduler(kTrunk, &*scheduler, 0).is_error());
        sw->set_qos_hook(&*qos);

        // NVGRE: blue 5001/5002 and yellow 6001 with overlapping CAs; local PA .10, peer PA .11.
        auto table = nvgre::PolicyTable::create(records, subnets);
        check(!table.is_error());
        policy.emplace(table.release_value());
        const nvgre::RoutingDomainId blue{1, 1}, yellow{1, 2};
        const auto ca = [](uint8_t c, uint8_t d) { return nvgre::NetAddress::v4(10, 1, c, d); };
        const nvgre::NetAddress local = nvgre::NetAddress::v4(192, 168, 1, 10);
        const nvgre::NetAddress remote = nvgre::NetAddress::v4(192, 168, 1, 11);
        check(!policy->set_subnet({5001, blue, ca(1, 1), true}).is_error());
        check(!policy->set_subnet({5002, blue, ca(2, 1), true}).is_error());
        check(!policy->set_subnet({6001, yellow, ca(1, 1), true}).is_error());
        check(!policy->set_record({blue, 5001, ca(1, 2), mac(kBlue1), local}).is_error());
        check(!policy->set_record({blue, 5001, ca(1, 3), mac(kBlue2), local}).is_error());
        check(!policy->set_record({blue, 5002, ca(2, 2), mac(kBlueOther), local}).is_error());
        check(!policy->set_record({blue, 5001, ca(1, 4), mac(40), remote}).is_error());
        check(!policy->set_record({yellow, 6001, ca(1, 2), mac(kYellow), local}).is_error());
        check(!policy->set_record({yellow, 6001, ca(1, 5), mac(50), remote}).is_error());
        nvgre::ProviderConfig provider;
        provider.router_mac = mac(0xEE);
        provider.vlan_id = 1; // the trunk's native VLAN: encapsulated traffic leaves untagged
        nv.emplace(*policy, provider);
        if (cached)
            check(!nv->set_flow_caches(customer_flows, provider_flows).is_error());
        check(!nv->add_local_provider_address(local, mac(0xA0)).is_error());
        check(!nv->set_provider_neighbor(remote, mac(0xA1)).is_error());
        sw->set_nvgre_hook(&*nv);

        if (frame_by_frame)
            check(!sw->extensions().attach_capturing(capture).is_error());
        checker.fixture = this;
        sw->set_egress_sink(&checker);
        if (trace)
            sw->set_drop_observer(&drop_tracer);
        transmitter.f = this;
    }

    void poll(uint64_t now) {
        transmitter.now = now;
        qos->poll(now, transmitter);
    }

    // A change of state between bursts (control records), applied alike to both switches.
    void change(uint8_t what) {
        const nvgre::RoutingDomainId blue{1, 1}, yellow{1, 2};
        const auto ca = [](uint8_t c, uint8_t d) { return nvgre::NetAddress::v4(10, 1, c, d); };
        const nvgre::NetAddress local = nvgre::NetAddress::v4(192, 168, 1, 10);
        const nvgre::NetAddress remote = nvgre::NetAddress::v4(192, 168, 1, 11);
        switch (what % 8) {
        case 0: { // a remote VM moves to this host, or back
            const nvgre::LookupRecord* record = policy->record(blue, ca(1, 4));
            const bool here = record != nullptr && record->provider_address == local;
            check(!policy->set_record({blue, 5001, ca(1, 4), mac(40), here ? remote : local})
                       .is_error());
            break;
        }
        case 1: // a VM goes away, or comes back
            if (policy->remove_record(yellow, ca(1, 5)).is_error())
                check(!policy->set_record({yellow, 6001, ca(1, 5), mac(50), remote}).is_error());
            break;
        case 2: { // a VM's MAC changes, or changes back
            const nvgre::LookupRecord* record = policy->record(blue, ca(1, 3));
            const MacAddress next =
                record != nullptr && record->customer_mac == mac(kBlue2) ? mac(77) : mac(kBlue2);
            check(!policy->set_record({blue, 5001, ca(1, 3), next, local}).is_error());
            break;
        }
        case 3: { // the peer host's MAC changes
            check(!nv->set_provider_neighbor(remote, mac(static_cast<uint8_t>(0xA1 + ++turn % 2)))
                       .is_error());
            break;
        }
        case 4: // the peer's provider address becomes one of ours (once)
            (void)nv->add_local_provider_address(remote, mac(0xA0));
            break;
        case 5: // web2's deny rule becomes an allow rule, or back; blue1's rules shrink or grow
            acl_rules[0].action =
                acl_rules[0].action == acl::Action::deny ? acl::Action::allow : acl::Action::deny;
            check(!acls[0]->set_rules(acl_rules).is_error());
            check(!acls[1]
                       ->set_rules(std::span(acl_rules).subspan(acls[1]->rule_count() == 2 ? 2 : 1))
                       .is_error());
            break;
        case 6: // blue2 moves between the blue domain's two virtual subnets
            configs[kBlue2].vsid = configs[kBlue2].vsid == 5001 ? 5002 : 5001;
            check(!sw->configure_port(kBlue2, configs[kBlue2]).is_error());
            break;
        default: { // blue2 is removed and added again (same id, same settings)
            check(!sw->remove_port(kBlue2).is_error());
            auto id = sw->add_port(configs[kBlue2]);
            check(!id.is_error() && id.value() == kBlue2);
            break;
        }
        }
    }
};

} // namespace vswitch_fuzz
