#include "vswitch/sim/simulation.hpp"

#include "vswitch/acl/acl_hook.hpp"
#include "vswitch/acl/port_acl.hpp"
#include "vswitch/core/switch.hpp"
#include "vswitch/nvgre/policy_table.hpp"
#include "vswitch/packet/drop_reason.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>

namespace halcyon::vswitch::sim {

namespace {

// Frame buffers: room for a 9000-byte MTU jumbo frame with two tags plus NVGRE headroom.
constexpr uint32_t kHeadroom = 256;
constexpr uint32_t kBufferSize = kHeadroom + 9018 + 8 + 62;
constexpr uint32_t kFramesPerSwitch = 2048;
// Frames crossing links: a bound so a configuration that wires a loop cannot run forever.
constexpr uint32_t kMaxLinkHops = 16;
// How often the MAC table is swept for aged entries (lookups already ignore stale ones).
constexpr uint64_t kAgeingSweepNs = 1'000'000'000;

std::string error_text(const Error& error) {
    return std::string(error.message() ? error.message() : error_code_name(error.code()));
}

} // namespace

struct Origin {
    int32_t input_port = -1; // global port index
    int64_t packet_index = -1;
};

struct PortRuntime {
    std::string name;
    uint32_t switch_index = 0;
    PortId id = kNoPort;
    int32_t peer = -1; // global index of the linked port
    std::vector<Packet> input;
    std::vector<OutputPacket> output;
};

struct SwitchRuntime;

struct Simulation::State {
    std::vector<PortRuntime> ports;
    std::vector<std::unique_ptr<SwitchRuntime>> switches;
    std::vector<DropRecord> drops;
    struct LinkTransfer {
        int32_t port; // global index of the receiving port
        uint64_t time_ns;
        std::vector<uint8_t> bytes;
        Origin origin;
        uint32_t hops;
    };
    std::deque<LinkTransfer> in_flight;

    void record_drop(const SwitchRuntime& sw, std::string reason, Origin origin, int32_t ingress,
                     int32_t egress, uint64_t time_ns);
    void ingest(int32_t port, const std::vector<uint8_t>& bytes, uint64_t time_ns, Origin origin,
                uint32_t hops);
    void poll_schedulers(uint64_t time_ns);
    void drain_links();
};

struct SwitchRuntime final : EgressSink, DropObserver, qos::QosTransmitter {
    Simulation::State& state;
    std::string name;
    std::vector<Frame> frames;
    std::vector<uint8_t> buffers;
    std::optional<FixedFramePool> pool;
    std::vector<MacEntry> mac_storage;
    std::unique_ptr<Switch> sw;
    std::map<PortId, int32_t> global_of; // switch port id -> global port index
    acl::PortAclHook acl_hook;
    std::vector<std::vector<std::byte>> acl_memory;
    std::vector<std::unique_ptr<acl::PortAcl>> acls;
    qos::SwitchQos qos;
    bool has_qos = false;
    std::vector<Frame*> scheduler_ring;
    std::optional<qos::EgressScheduler> scheduler;
    std::vector<nvgre::RecordSlot> record_slots;
    std::vector<nvgre::SubnetSlot> subnet_slots;
    std::optional<nvgre::PolicyTable> policy;
    std::optional<nvgre::NetworkVirtualization> nvgre;
    std::vector<nvgre::CustomerFlowEntry> customer_flows;
    std::vector<nvgre::ProviderFlowEntry> provider_flows;
    PortMirror mirror;
    Origin current; // the input packet being processed
    uint32_t current_hops = 0;
    uint64_t now_ns = 0;
    uint64_t last_sweep_ns = 0;

    SwitchRuntime(Simulation::State& s, std::string n) : state(s), name(std::move(n)) {}

    int32_t global(PortId id) const {
        auto it = global_of.find(id);
        return it == global_of.end() ? -1 : it->second;
    }

    bool deliver(PortId port, Frame* frame) override {
        const int32_t g = global(port);
        if (g >= 0) {
            PortRuntime& out = state.ports[static_cast<size_t>(g)];
            std::vector<uint8_t> bytes(frame->data(), frame->data() + frame->length);
            if (out.peer >= 0)
                state.in_flight.push_back({out.peer, now_ns, bytes, current, current_hops + 1});
            out.output.push_back({now_ns, std::move(bytes)});
        }
        frame->pool->release(frame);
        return true;
    }

    void on_drop(const DropEvent& event, const Frame& frame) override {
        (void)frame;
        state.record_drop(*this, drop_reason_name(event.reason), current,
                          event.ingress_port == kNoPort ? -1 : global(event.ingress_port),
                          event.egress_port == kNoPort ? -1 : global(event.egress_port),
                          event.now_ns);
    }

    void transmit(PortId port, Frame* frame) override { sw->transmit(port, frame, now_ns); }
};

void Simulation::State::record_drop(const SwitchRuntime& sw, std::string reason, Origin origin,
                                    int32_t ingress, int32_t egress, uint64_t time_ns) {
    DropRecord record;
    record.switch_name = sw.name;
    record.reason = std::move(reason);
    if (origin.input_port >= 0)
        record.input_port = ports[static_cast<size_t>(origin.input_port)].name;
    record.packet_index = origin.packet_index;
    if (ingress >= 0)
        record.ingress_port = ports[static_cast<size_t>(ingress)].name;
    if (egress >= 0)
        record.egress_port = ports[static_cast<size_t>(egress)].name;
    record.time_ns = time_ns;
    drops.push_back(std::move(record));
}

void Simulation::State::ingest(int32_t port, const std::vector<uint8_t>& bytes, uint64_t time_ns,
                               Origin origin, uint32_t hops) {
    PortRuntime& p = ports[static_cast<size_t>(port)];
    SwitchRuntime& sw = *switches[p.switch_index];
    sw.now_ns = std::max(sw.now_ns, time_ns);
    if (hops > kMaxLinkHops) {
        record_drop(sw, "sim_link_loop", origin, port, -1, time_ns);
        return;
    }
    if (sw.now_ns - sw.last_sweep_ns >= kAgeingSweepNs) {
        sw.sw->age(sw.now_ns);
        sw.last_sweep_ns = sw.now_ns;
    }
    Frame* frame = sw.pool->allocate();
    if (!frame) {
        record_drop(sw, "pool_exhausted", origin, port, -1, time_ns);
        return;
    }
    if (!frame->set_length(static_cast<uint32_t>(bytes.size()))) {
        sw.pool->release(frame);
        record_drop(sw, "sim_frame_too_large", origin, port, -1, time_ns);
        return;
    }
    std::copy(bytes.begin(), bytes.end(), frame->data());
    Burst burst;
    (void)burst.push(frame);
    sw.current = origin;
    sw.current_hops = hops;
    sw.sw->process(p.id, burst, sw.now_ns);
    // Frames a scheduler releases now may belong to earlier packets: no origin for them.
    sw.current = {};
    sw.current_hops = 0;
    if (sw.has_qos)
        sw.qos.poll(sw.now_ns, sw);
}

void Simulation::State::drain_links() {
    while (!in_flight.empty()) {
        LinkTransfer transfer = std::move(in_flight.front());
        in_flight.pop_front();
        ingest(transfer.port, transfer.bytes, transfer.time_ns, transfer.origin, transfer.hops);
    }
}

void Simulation::State::poll_schedulers(uint64_t time_ns) {
    for (auto& sw : switches) {
        if (!sw->has_qos)
            continue;
        sw->now_ns = std::max(sw->now_ns, time_ns);
        sw->qos.poll(sw->now_ns, *sw);
    }
    drain_links();
}

Simulation::Simulation(std::unique_ptr<State> state) : state_(std::move(state)) {}
Simulation::~Simulation() = default;

namespace {

[[nodiscard]] bool build_nvgre(SwitchRuntime& sw, const NvgreSpec& spec, std::string& error) {
    sw.record_slots.resize(
        nvgre::PolicyTable::slot_count_for(std::max<size_t>(spec.records.size(), 16)));
    sw.subnet_slots.resize(
        nvgre::PolicyTable::slot_count_for(std::max<size_t>(spec.subnets.size(), 16)));
    auto table = nvgre::PolicyTable::create(sw.record_slots, sw.subnet_slots);
    if (table.is_error()) {
        error = "nvgre policy: " + error_text(table.error());
        return false;
    }
    sw.policy.emplace(table.release_value());
    for (const nvgre::VirtualSubnet& subnet : spec.subnets) {
        auto result = sw.policy->set_subnet(subnet);
        if (result.is_error()) {
            error =
                "nvgre subnet " + std::to_string(subnet.vsid) + ": " + error_text(result.error());
            return false;
        }
    }
    for (nvgre::LookupRecord record : spec.records) {
        const nvgre::VirtualSubnet* subnet = sw.policy->subnet(record.vsid);
        if (!subnet) {
            error = "nvgre record for VSID " + std::to_string(record.vsid) +
                    ": no such subnet in the policy";
            return false;
        }
        if (record.routing_domain == nvgre::RoutingDomainId{})
            record.routing_domain = subnet->routing_domain;
        auto result = sw.policy->set_record(record);
        if (result.is_error()) {
            error = "nvgre record in VSID " + std::to_string(record.vsid) + ": " +
                    error_text(result.error());
            return false;
        }
    }
    sw.nvgre.emplace(*sw.policy, spec.provider);
    for (const AddressMacSpec& pa : spec.local_provider_addresses) {
        auto result = sw.nvgre->add_local_provider_address(pa.address, pa.mac);
        if (result.is_error()) {
            error = "nvgre local provider address: " + error_text(result.error());
            return false;
        }
    }
    for (const AddressMacSpec& neighbor : spec.provider_neighbors) {
        auto result = sw.nvgre->set_provider_neighbor(neighbor.address, neighbor.mac);
        if (result.is_error()) {
            error = "nvgre provider neighbor: " + error_text(result.error());
            return false;
        }
    }
    // The packet path's flow caches, as a live host would run them (they never change a result).
    sw.customer_flows.resize(1024);
    sw.provider_flows.resize(1024);
    if (sw.nvgre->set_flow_caches(sw.customer_flows, sw.provider_flows).is_error()) {
        error = "nvgre flow caches: invalid size";
        return false;
    }
    sw.sw->set_nvgre_hook(&*sw.nvgre);
    return true;
}

[[nodiscard]] bool build_switch(Simulation::State& state, const SwitchSpec& spec,
                                uint32_t switch_index, std::string& error) {
    auto sw = std::make_unique<SwitchRuntime>(state, spec.name);
    const std::string where = "switch \"" + spec.name + "\": ";
    sw->frames.resize(kFramesPerSwitch);
    sw->buffers.resize(size_t{kFramesPerSwitch} * kBufferSize);
    sw->pool.emplace(std::span<Frame>(sw->frames), std::span<uint8_t>(sw->buffers), kBufferSize,
                     kHeadroom);
    sw->mac_storage.resize(spec.mac_table_size);
    sw->sw = std::make_unique<Switch>(spec.type, *sw->pool, std::span<MacEntry>(sw->mac_storage),
                                      spec.mac_ageing_ns);
    sw->sw->set_egress_sink(sw.get());
    sw->sw->set_drop_observer(sw.get());
    bool any_acl = false, any_mirror = false;
    for (const PortSpec& port : spec.ports) {
        auto id = sw->sw->add_port(port.config);
        if (id.is_error()) {
            error = where + "port \"" + port.name + "\": " + error_text(id.error());
            return false;
        }
        const PortId port_id = id.value();
        const int32_t global = static_cast<int32_t>(state.ports.size());
        state.ports.push_back({port.name, switch_index, port_id, -1, {}, {}});
        sw->global_of[port_id] = global;
        if (port.has_acl) {
            acl::AclLimits limits;
            limits.max_rules = std::max<uint32_t>(16, static_cast<uint32_t>(port.acl.size()));
            sw->acl_memory.emplace_back(acl::PortAcl::memory_bytes(limits));
            auto created = acl::PortAcl::create(limits, sw->acl_memory.back());
            if (created.is_error()) {
                error = where + "port \"" + port.name + "\" acl: " + error_text(created.error());
                return false;
            }
            sw->acls.push_back(std::make_unique<acl::PortAcl>(created.release_value()));
            auto rules = sw->acls.back()->set_rules(port.acl);
            if (rules.is_error()) {
                error = where + "port \"" + port.name + "\" acl: " + error_text(rules.error());
                return false;
            }
            auto attached = sw->acl_hook.attach(port_id, sw->acls.back().get());
            if (attached.is_error()) {
                error = where + "port \"" + port.name + "\" acl: " + error_text(attached.error());
                return false;
            }
            any_acl = true;
        }
        if (port.qos) {
            auto configured = sw->qos.configure_port(port_id, *port.qos, 0);
            if (configured.is_error()) {
                error = where + "port \"" + port.name + "\" qos: " + error_text(configured.error());
                return false;
            }
            sw->has_qos = true;
        }
        if (port.mirror != MirrorMode::none) {
            sw->mirror.set_mode(port_id, port.mirror);
            any_mirror = true;
        }
    }
    if (any_acl)
        sw->sw->set_acl_hook(&sw->acl_hook);
    if (any_mirror) {
        auto attached = sw->sw->extensions().attach_capturing(sw->mirror);
        if (attached.is_error()) {
            error = where + "mirror: " + error_text(attached.error());
            return false;
        }
    }
    if (spec.egress_scheduler) {
        PortId port_id = kNoPort;
        for (const auto& [id, global] : sw->global_of)
            if (state.ports[static_cast<size_t>(global)].name == spec.egress_scheduler->port)
                port_id = id;
        sw->scheduler_ring.resize(kMaxPorts * 64);
        auto scheduler =
            qos::EgressScheduler::create(spec.egress_scheduler->config, sw->scheduler_ring, 0);
        if (scheduler.is_error()) {
            error = where + "egress_scheduler: " + error_text(scheduler.error());
            return false;
        }
        sw->scheduler.emplace(scheduler.release_value());
        auto attached = sw->qos.attach_scheduler(port_id, &*sw->scheduler, 0);
        if (attached.is_error()) {
            error = where + "egress_scheduler: " + error_text(attached.error());
            return false;
        }
        sw->has_qos = true;
    }
    if (sw->has_qos)
        sw->sw->set_qos_hook(&sw->qos);
    if (spec.nvgre && !build_nvgre(*sw, *spec.nvgre, error)) {
        error = where + error;
        return false;
    }
    state.switches.push_back(std::move(sw));
    return true;
}

} // namespace

std::unique_ptr<Simulation> Simulation::create(const SimConfig& config, std::string& error) {
    auto state = std::make_unique<State>();
    for (uint32_t i = 0; i < config.switches.size(); ++i)
        if (!build_switch(*state, config.switches[i], i, error))
            return nullptr;
    auto index_of = [&](const std::string& name) {
        for (size_t i = 0; i < state->ports.size(); ++i)
            if (state->ports[i].name == name)
                return static_cast<int32_t>(i);
        return -1;
    };
    for (const auto& [a, b] : config.links) {
        const int32_t ia = index_of(a), ib = index_of(b);
        if (ia < 0 || ib < 0) {
            error = "link names an unknown port";
            return nullptr;
        }
        state->ports[static_cast<size_t>(ia)].peer = ib;
        state->ports[static_cast<size_t>(ib)].peer = ia;
    }
    return std::unique_ptr<Simulation>(new Simulation(std::move(state)));
}

bool Simulation::has_port(const std::string& name) const {
    for (const PortRuntime& p : state_->ports)
        if (p.name == name)
            return true;
    return false;
}

bool Simulation::is_linked(const std::string& name) const {
    for (const PortRuntime& p : state_->ports)
        if (p.name == name)
            return p.peer >= 0;
    return false;
}

std::vector<std::string> Simulation::port_names() const {
    std::vector<std::string> names;
    for (const PortRuntime& p : state_->ports)
        names.push_back(p.name);
    return names;
}

void Simulation::set_input(const std::string& port, std::vector<Packet> packets) {
    for (PortRuntime& p : state_->ports)
        if (p.name == port)
            p.input = std::move(packets);
}

void Simulation::run() {
    struct Event {
        uint64_t time_ns;
        int32_t port;
        int64_t index;
    };
    std::vector<Event> events;
    for (size_t p = 0; p < state_->ports.size(); ++p)
        for (size_t i = 0; i < state_->ports[p].input.size(); ++i)
            events.push_back({state_->ports[p].input[i].time_ns, static_cast<int32_t>(p),
                              static_cast<int64_t>(i)});
    // Time order; ties keep port order, then file order (stable and reproducible).
    std::stable_sort(events.begin(), events.end(),
                     [](const Event& a, const Event& b) { return a.time_ns < b.time_ns; });
    for (const Event& event : events) {
        state_->poll_schedulers(event.time_ns);
        const Packet& packet =
            state_->ports[static_cast<size_t>(event.port)].input[static_cast<size_t>(event.index)];
        const Origin origin{event.port, event.index};
        if (packet.bytes.size() < packet.original_length) {
            // The capture cut this frame short (snaplen): switching a partial frame would emit
            // bytes the sender never sent, so it is reported instead.
            PortRuntime& p = state_->ports[static_cast<size_t>(event.port)];
            state_->record_drop(*state_->switches[p.switch_index], "sim_capture_truncated", origin,
                                event.port, -1, event.time_ns);
            continue;
        }
        state_->ingest(event.port, packet.bytes, event.time_ns, origin, 0);
        state_->drain_links();
    }
    // Let the QoS schedulers send what they still hold, at the times they allow.
    for (auto& sw : state_->switches) {
        if (!sw->scheduler)
            continue;
        for (int round = 0; round < 1'000'000 && sw->scheduler->backlog_mask() != 0; ++round) {
            const uint64_t next = sw->scheduler->next_ready_ns(sw->now_ns);
            if (next == UINT64_MAX)
                break;
            state_->poll_schedulers(std::max(next, sw->now_ns));
        }
    }
}

const std::vector<OutputPacket>& Simulation::output(const std::string& port) const {
    static const std::vector<OutputPacket> kEmpty;
    for (const PortRuntime& p : state_->ports)
        if (p.name == port)
            return p.output;
    return kEmpty;
}

const std::vector<DropRecord>& Simulation::drops() const {
    return state_->drops;
}

std::vector<PortSummary> Simulation::summaries() const {
    std::vector<PortSummary> result;
    for (const PortRuntime& p : state_->ports) {
        const SwitchRuntime& sw = *state_->switches[p.switch_index];
        PortSummary summary;
        summary.name = p.name;
        summary.switch_name = sw.name;
        if (const PortCounters* counters = sw.sw->counters(p.id)) {
            summary.rx_packets = counters->rx.packets;
            summary.tx_packets = counters->tx.packets;
            for (size_t r = 0; r < kDropReasonCount; ++r)
                if (counters->drops.by_reason[r] != 0)
                    summary.drops.emplace_back(drop_reason_name(static_cast<DropReason>(r)),
                                               counters->drops.by_reason[r]);
        }
        result.push_back(std::move(summary));
    }
    return result;
}

} // namespace halcyon::vswitch::sim
