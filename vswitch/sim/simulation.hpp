// Runs the switches of a SimConfig over recorded traffic: each input packet enters its port at
// its capture timestamp (all inputs merged in time order, so the clock drives MAC ageing, storm
// limits, ACL flow timeouts and token buckets), frames a switch delivers to a linked port enter
// the peer switch at once, and everything delivered to a port or dropped is recorded.
#pragma once

#include "vswitch/sim/sim_config.hpp"

#include <memory>
#include <stdint.h>
#include <string>
#include <vector>

namespace halcyon::vswitch::sim {

struct Packet {
    uint64_t time_ns = 0;
    std::vector<uint8_t> bytes;
    uint32_t original_length = 0; // wire length; > bytes.size() if the capture cut it short
};

struct OutputPacket {
    uint64_t time_ns = 0;
    std::vector<uint8_t> bytes;
};

// A drop, attributed to the input packet it descends from (flooded copies and frames that crossed
// a link keep their origin). Drops of frames a QoS scheduler released later have no origin
// (packet_index -1).
struct DropRecord {
    std::string switch_name;
    std::string reason; // drop_reason_name() or a simulator reason (see docs/vswitch.md)
    std::string input_port;
    int64_t packet_index = -1; // 0-based index in the input port's pcap
    std::string ingress_port;  // where the frame entered the switch that dropped it
    std::string egress_port;   // empty when dropped before a destination was chosen
    uint64_t time_ns = 0;
};

struct PortSummary {
    std::string name;
    std::string switch_name;
    uint64_t rx_packets = 0;                             // into the switch from the port
    uint64_t tx_packets = 0;                             // delivered to the port
    std::vector<std::pair<std::string, uint64_t>> drops; // non-zero reasons counted on the port
};

class Simulation {
public:
    // Builds every switch. On failure returns nullptr and sets `error`.
    [[nodiscard]] static std::unique_ptr<Simulation> create(const SimConfig& config,
                                                            std::string& error);
    ~Simulation();
    Simulation(const Simulation&) = delete;
    Simulation& operator=(const Simulation&) = delete;

    [[nodiscard]] bool has_port(const std::string& name) const;
    [[nodiscard]] bool is_linked(const std::string& name) const;
    [[nodiscard]] std::vector<std::string> port_names() const;

    // Adds the traffic a port sends (packets in file order). Call before run().
    void set_input(const std::string& port, std::vector<Packet> packets);
    void run();

    [[nodiscard]] const std::vector<OutputPacket>& output(const std::string& port) const;
    [[nodiscard]] const std::vector<DropRecord>& drops() const;
    [[nodiscard]] std::vector<PortSummary> summaries() const;

    struct State;

private:
    explicit Simulation(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

} // namespace halcyon::vswitch::sim
