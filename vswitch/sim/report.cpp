#include "vswitch/sim/report.hpp"

#include <cstdio>
#include <map>

namespace halcyon::vswitch::sim {

std::string json_escape(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buffer[8];
                std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
                out += buffer;
            } else {
                out += c;
            }
        }
    }
    return out + "\"";
}

namespace {

std::string optional_string(const std::string& text) {
    return text.empty() ? "null" : json_escape(text);
}

} // namespace

std::string make_report(const Simulation& simulation, const std::vector<InputSummary>& inputs) {
    std::string out = "{\n  \"inputs\": [";
    for (size_t i = 0; i < inputs.size(); ++i) {
        const InputSummary& input = inputs[i];
        out += (i ? ",\n    " : "\n    ");
        out += "{\"port\": " + json_escape(input.port) + ", \"file\": " + json_escape(input.file) +
               ", \"packets\": " + std::to_string(input.packets) +
               ", \"error\": " + optional_string(input.error) + "}";
    }
    out += inputs.empty() ? "],\n" : "\n  ],\n";
    out += "  \"drops\": [";
    std::map<std::string, uint64_t> totals;
    const auto& drops = simulation.drops();
    for (size_t i = 0; i < drops.size(); ++i) {
        const DropRecord& d = drops[i];
        ++totals[d.reason];
        out += (i ? ",\n    " : "\n    ");
        out += "{\"reason\": " + json_escape(d.reason) +
               ", \"switch\": " + json_escape(d.switch_name) +
               ", \"input_port\": " + optional_string(d.input_port) + ", \"packet_index\": " +
               (d.packet_index < 0 ? std::string("null") : std::to_string(d.packet_index)) +
               ", \"ingress_port\": " + optional_string(d.ingress_port) +
               ", \"egress_port\": " + optional_string(d.egress_port) +
               ", \"time_ns\": " + std::to_string(d.time_ns) + "}";
    }
    out += drops.empty() ? "],\n" : "\n  ],\n";
    out += "  \"drop_totals\": {";
    bool first = true;
    for (const auto& [reason, count] : totals) {
        out += (first ? "" : ", ") + json_escape(reason) + ": " + std::to_string(count);
        first = false;
    }
    out += "},\n  \"ports\": {";
    const auto summaries = simulation.summaries();
    for (size_t i = 0; i < summaries.size(); ++i) {
        const PortSummary& s = summaries[i];
        out += (i ? ",\n    " : "\n    ");
        out += json_escape(s.name) + ": {\"switch\": " + json_escape(s.switch_name) +
               ", \"rx_packets\": " + std::to_string(s.rx_packets) +
               ", \"tx_packets\": " + std::to_string(s.tx_packets) +
               ", \"output_packets\": " + std::to_string(simulation.output(s.name).size()) +
               ", \"drops\": {";
        for (size_t r = 0; r < s.drops.size(); ++r)
            out += (r ? ", " : "") + json_escape(s.drops[r].first) + ": " +
                   std::to_string(s.drops[r].second);
        out += "}}";
    }
    out += summaries.empty() ? "}\n}\n" : "\n  }\n}\n";
    return out;
}

} // namespace halcyon::vswitch::sim
