#include "bench/vswitch/scenarios.hpp"

#include "tests/unit/vswitch_test_packets.hpp"
#include "vswitch/acl/acl_hook.hpp"
#include "vswitch/acl/port_acl.hpp"
#include "vswitch/nvgre/network_virtualization.hpp"

#include <cstring>
#include <optional>

namespace halcyon::vswitch::bench {

namespace {

using namespace halcyon::vswitch::test;

constexpr uint32_t kTemplates = 1024;
constexpr uint32_t kLearnedMacs = 1000;
constexpr uint32_t kAclRules = 1000;
constexpr uint32_t kPolicyRecords = 10'000;
constexpr uint32_t kRemoteHosts = 40;
constexpr uint64_t kBurstIntervalNs = 1000; // simulated clock step per burst

// UDP payload size that makes an untagged IPv4/UDP frame exactly `frame_size` bytes.
Bytes payload_for(uint32_t frame_size) {
    return Bytes(frame_size > 42 ? frame_size - 42 : 0, 0x5A);
}

MacAddress host_mac(uint32_t n) {
    return MacAddress{{0x02, 0x10, static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8),
                       static_cast<uint8_t>(n), 0x01}};
}

Ipv4Address ca(uint32_t n) {
    return ip4(10, static_cast<uint8_t>(1 + (n >> 16)), static_cast<uint8_t>(n >> 8),
               static_cast<uint8_t>(n));
}

nvgre::NetAddress net(Ipv4Address a) {
    return nvgre::NetAddress::v4(static_cast<uint8_t>(a.value >> 24),
                                 static_cast<uint8_t>(a.value >> 16),
                                 static_cast<uint8_t>(a.value >> 8), static_cast<uint8_t>(a.value));
}

// Frames and pool shared by every scenario: the "NIC" side.
class Rings {
public:
    Rings() : frames_(4096), buffers_(size_t{4096} * 2048), pool_(frames_, buffers_, 2048, 128) {}

    FixedFramePool& pool() { return pool_; }
    // Allocates and fills the next burst from the templates, as a NIC receive ring would.
    void fill(Burst& burst) {
        burst.clear();
        for (uint32_t i = 0; i < kBurst; ++i) {
            Frame* frame = pool_.allocate();
            const Bytes& bytes = templates[next_++ % templates.size()];
            (void)frame->set_length(static_cast<uint32_t>(bytes.size()));
            std::memcpy(frame->data(), bytes.data(), bytes.size());
            (void)burst.push(frame);
        }
    }
    std::vector<Bytes> templates;

private:
    std::vector<Frame> frames_;
    std::vector<uint8_t> buffers_;
    FixedFramePool pool_;
    uint32_t next_ = 0;
};

// The ceiling: each received frame is copied into a fresh frame on an output ring, then the
// ring is drained and freed. No parsing, no decisions.
class CopyBaseline final : public Scenario {
public:
    explicit CopyBaseline(uint32_t frame_size) {
        for (uint32_t i = 0; i < kTemplates; ++i)
            rings_.templates.push_back(udp4_frame(host_mac(i), host_mac(5000), ip4(10, 0, 0, 1),
                                                  ca(i), 1000, 2000, payload_for(frame_size)));
    }
    uint32_t run_burst() override {
        Burst burst;
        rings_.fill(burst);
        for (Frame* frame : burst) {
            Frame* copy = rings_.pool().allocate();
            (void)copy->set_length(frame->length);
            std::memcpy(copy->data(), frame->data(), frame->length);
            rings_.pool().release(frame);
            (void)output_.push(copy);
        }
        uint32_t delivered = 0;
        while (Frame* frame = output_.pop()) {
            rings_.pool().release(frame);
            ++delivered;
        }
        return delivered;
    }

private:
    Rings rings_;
    OutputRing output_;
};

// A switch fed from port `ingress`, drained on every port.
class SwitchScenario : public Scenario {
public:
    SwitchScenario() : macs_(4096), switch_(SwitchType::external, rings_.pool(), macs_) {}

    uint32_t run_burst() override {
        Burst burst;
        rings_.fill(burst);
        now_ += kBurstIntervalNs;
        switch_.process(ingress_, burst, now_);
        uint32_t delivered = 0;
        PortSet ports = switch_.ports();
        while (!ports.empty()) {
            const PortId port = ports.pop();
            Burst out;
            while (switch_.drain(port, out) != 0) {
                for (Frame* frame : out)
                    rings_.pool().release(frame);
                delivered += out.count;
                out.clear();
            }
        }
        return delivered;
    }

    std::string drops_description() const override {
        std::string text;
        const DropCounters& drops = switch_.drops();
        for (size_t r = 0; r < kDropReasonCount; ++r)
            if (drops.by_reason[r] != 0)
                text += std::string(drop_reason_name(static_cast<DropReason>(r))) + "=" +
                        std::to_string(drops.by_reason[r]) + " ";
        return text;
    }

protected:
    PortId add(const PortConfig& config) { return switch_.add_port(config).release_value(); }
    // Teaches the switch `mac` on `port` by sending one frame from it.
    void learn(PortId port, const MacAddress& mac) {
        Frame* frame = rings_.pool().allocate();
        const Bytes bytes = arp_frame(mac, 1, mac, ip4(10, 9, 9, 9), ip4(10, 9, 9, 8));
        (void)frame->set_length(static_cast<uint32_t>(bytes.size()));
        std::memcpy(frame->data(), bytes.data(), bytes.size());
        Burst burst;
        (void)burst.push(frame);
        switch_.process(port, burst, now_);
        Burst out;
        PortSet ports = switch_.ports();
        while (!ports.empty()) {
            const PortId p = ports.pop();
            while (switch_.drain(p, out) != 0) {
                for (Frame* f : out)
                    rings_.pool().release(f);
                out.clear();
            }
        }
    }

    Rings rings_;
    std::vector<MacEntry> macs_;
    Switch switch_;
    PortId ingress_ = 0;
    uint64_t now_ = 1'000'000'000;
};

// L2: 1,000 MACs learned behind three ports; traffic from port 0 to all of them.
class L2Forward : public SwitchScenario {
public:
    explicit L2Forward(uint32_t frame_size) {
        PortConfig config;
        config.mtu = 9000;
        for (int i = 0; i < 4; ++i)
            (void)add(config);
        for (uint32_t i = 0; i < kLearnedMacs; ++i)
            learn(static_cast<PortId>(1 + i % 3), host_mac(i));
        learn(0, host_mac(5000));
        for (uint32_t i = 0; i < kTemplates; ++i)
            rings_.templates.push_back(udp4_frame(host_mac(i % kLearnedMacs), host_mac(5000),
                                                  ip4(10, 0, 0, 1), ca(i), 1000, 2000,
                                                  payload_for(frame_size)));
    }
};

// L2 plus a 1,000-rule port ACL on the sending port (and its own shape mix: /32, /24 and /16
// prefixes, port ranges, TCP and UDP), none of which denies the traffic.
class Acl1000 final : public L2Forward {
public:
    Acl1000(uint32_t frame_size, bool caches) : L2Forward(frame_size) {
        acl::AclLimits limits;
        limits.max_rules = kAclRules;
        // The classification cache at eight entries per flow in flight (the rows cycle through
        // 1,024): four-way sets that full rarely overflow, where at four entries per flow about
        // one flow in a hundred shares an overfull set and misses every time.
        limits.classification_cache_entries = caches ? 8192 : 0;
        memory_.resize(acl::PortAcl::memory_bytes(limits));
        acl_.emplace(acl::PortAcl::create(limits, memory_).release_value());
        std::vector<acl::Rule> rules(kAclRules);
        for (uint32_t i = 0; i < kAclRules; ++i) {
            acl::Rule& rule = rules[i];
            rule.id = i + 1;
            rule.action = i + 1 == kAclRules ? acl::Action::allow : acl::Action::deny;
            rule.direction = i % 2 ? acl::Direction::outbound : acl::Direction::both;
            rule.weight = i % 7;
            rule.family = acl::AddressFamily::ipv4;
            const uint8_t prefix = i % 3 == 0 ? 32 : i % 3 == 1 ? 24 : 16;
            rule.remote_address = acl::mask_address(
                acl::IpAddress::v4(172, static_cast<uint8_t>(16 + i % 16),
                                   static_cast<uint8_t>(i >> 4), static_cast<uint8_t>(i)),
                acl::AddressFamily::ipv4, prefix);
            rule.remote_prefix_length = prefix;
            rule.match_protocol = true;
            rule.protocol = i % 2 ? acl::kProtocolTcp : acl::kProtocolUdp;
            if (i % 5 == 0)
                rule.remote_ports = {static_cast<uint16_t>(i), static_cast<uint16_t>(i + 10)};
        }
        // The last rule allows the benchmark traffic explicitly.
        rules.back().remote_address = acl::IpAddress::v4(10, 0, 0, 0);
        rules.back().remote_prefix_length = 8;
        rules.back().protocol = acl::kProtocolUdp;
        if (acl_->set_rules(rules).is_error())
            std::abort();
        (void)hook_.attach(0, &*acl_);
        switch_.set_acl_hook(&hook_);
    }

private:
    std::vector<std::byte> memory_;
    std::optional<acl::PortAcl> acl_;
    acl::PortAclHook hook_;
};

// NVGRE with 10,000 CA records spread over 40 remote hosts (plus the local VM's own record).
class NvgreScenario : public SwitchScenario {
public:
    explicit NvgreScenario(bool caches) {
        PortConfig vm;
        vm.vsid = 5001;
        vm.mtu = 9000;
        vm_port_ = add(vm);
        PortConfig uplink;
        uplink.kind = PortKind::external;
        uplink.mtu = 9000;
        uplink_port_ = add(uplink);
        record_slots_.resize(nvgre::PolicyTable::slot_count_for(kPolicyRecords + 1));
        subnet_slots_.resize(16);
        policy_.emplace(nvgre::PolicyTable::create(record_slots_, subnet_slots_).release_value());
        (void)policy_->set_subnet({5001, domain_, {}, false});
        (void)policy_->set_record({domain_, 5001, net(local_ca()), host_mac(9999), local_pa()});
        for (uint32_t i = 0; i < kPolicyRecords; ++i)
            if (policy_->set_record({domain_, 5001, net(ca(i)), host_mac(i), remote_pa(i)})
                    .is_error())
                std::abort();
        nvgre::ProviderConfig provider;
        provider.mtu = 9000; // jumbo provider network: 1500-byte customer frames + 42 fit
        provider.router_mac = host_mac(7777);
        nv_.emplace(*policy_, provider);
        // Exact-match flow caches at eight entries per flow in flight (the rows cycle through
        // 1,024), as the ACL's classification cache.
        if (caches) {
            customer_flows_.resize(8192);
            provider_flows_.resize(8192);
            if (nv_->set_flow_caches(customer_flows_, provider_flows_).is_error())
                std::abort();
        }
        (void)nv_->add_local_provider_address(local_pa(), host_mac(8000));
        for (uint32_t h = 0; h < kRemoteHosts; ++h)
            (void)nv_->set_provider_neighbor(remote_pa(h), host_mac(8001 + h));
        switch_.set_nvgre_hook(&*nv_);
    }

protected:
    static Ipv4Address local_ca() { return ip4(10, 0, 0, 1); }
    static nvgre::NetAddress local_pa() { return nvgre::NetAddress::v4(192, 168, 0, 1); }
    static nvgre::NetAddress remote_pa(uint32_t i) {
        return nvgre::NetAddress::v4(192, 168, 1, static_cast<uint8_t>(1 + i % kRemoteHosts));
    }

    const nvgre::RoutingDomainId domain_{0x1111, 0x2222};
    PortId vm_port_ = 0;
    PortId uplink_port_ = 0;
    std::vector<nvgre::RecordSlot> record_slots_;
    std::vector<nvgre::SubnetSlot> subnet_slots_;
    std::optional<nvgre::PolicyTable> policy_;
    std::optional<nvgre::NetworkVirtualization> nv_;
    std::vector<nvgre::CustomerFlowEntry> customer_flows_;
    std::vector<nvgre::ProviderFlowEntry> provider_flows_;
};

class NvgreEncap final : public NvgreScenario {
public:
    NvgreEncap(uint32_t frame_size, bool caches) : NvgreScenario(caches) {
        ingress_ = vm_port_;
        for (uint32_t i = 0; i < kTemplates; ++i) {
            const uint32_t n = (i * 9973u) % kPolicyRecords; // spread over the whole policy
            rings_.templates.push_back(udp4_frame(host_mac(n), host_mac(9999), local_ca(), ca(n),
                                                  1000, 2000, payload_for(frame_size)));
        }
    }
};

class NvgreDecap final : public NvgreScenario {
public:
    NvgreDecap(uint32_t frame_size, bool caches) : NvgreScenario(caches) {
        ingress_ = uplink_port_;
        for (uint32_t i = 0; i < kTemplates; ++i) {
            const uint32_t n = (i * 9973u) % kPolicyRecords;
            const Bytes inner = udp4_frame(host_mac(9999), host_mac(n), ca(n), local_ca(), 2000,
                                           1000, payload_for(frame_size));
            const nvgre::NetAddress pa = remote_pa(n);
            rings_.templates.push_back(
                nvgre_frame(host_mac(8000), host_mac(8001 + n % kRemoteHosts),
                            ip4(pa.bytes[0], pa.bytes[1], pa.bytes[2], pa.bytes[3]),
                            ip4(192, 168, 0, 1), 5001, static_cast<uint8_t>(n), inner));
        }
    }
};

} // namespace

const char* row_name(Row row) {
    switch (row) {
    case Row::copy_baseline:
        return "copy-only baseline";
    case Row::l2_forward:
        return "L2 forward, 1000 MACs";
    case Row::acl_1000:
        return "L2 + 1000 ACL rules";
    case Row::nvgre_encap:
        return "NVGRE encap, 10k records";
    case Row::nvgre_decap:
        return "NVGRE decap, 10k records";
    }
    return "?";
}

const char* row_description(Row row) {
    switch (row) {
    case Row::copy_baseline:
        return "copy";
    case Row::l2_forward:
        return "l2";
    case Row::acl_1000:
        return "acl";
    case Row::nvgre_encap:
        return "encap";
    case Row::nvgre_decap:
        return "decap";
    }
    return "?";
}

std::unique_ptr<Scenario> make_scenario(Row row, uint32_t frame_size, bool caches) {
    switch (row) {
    case Row::copy_baseline:
        return std::make_unique<CopyBaseline>(frame_size);
    case Row::l2_forward:
        return std::make_unique<L2Forward>(frame_size);
    case Row::acl_1000:
        return std::make_unique<Acl1000>(frame_size, caches);
    case Row::nvgre_encap:
        return std::make_unique<NvgreEncap>(frame_size, caches);
    case Row::nvgre_decap:
        return std::make_unique<NvgreDecap>(frame_size, caches);
    }
    return nullptr;
}

} // namespace halcyon::vswitch::bench
