// The report.json vswitch-sim writes next to the output pcaps: inputs read (with any pcap error),
// every drop with its reason, switch, origin packet and ports, per-port counters and totals.
#pragma once

#include "vswitch/sim/simulation.hpp"

#include <string>
#include <vector>

namespace halcyon::vswitch::sim {

struct InputSummary {
    std::string port;
    std::string file;
    uint64_t packets = 0;
    std::string error; // empty if the whole file was read
};

[[nodiscard]] std::string json_escape(std::string_view text);
[[nodiscard]] std::string make_report(const Simulation& simulation,
                                      const std::vector<InputSummary>& inputs);

} // namespace halcyon::vswitch::sim
