// vswitch-sim: runs the switches a JSON file describes over pcap captures, one per port, and
// writes what every port received (DIR/<port>.pcap) and every drop (DIR/report.json).
//
//   vswitch-sim CONFIG.json --in PORT=FILE.pcap [--in ...] --out-dir DIR
//
// Exit status: 0 ran cleanly; 1 usage or configuration error (nothing written); 2 ran, but an
// input pcap was damaged (the packets before the damage were used; report.json says where).
#include "vswitch/pcap/pcap.hpp"
#include "vswitch/sim/report.hpp"
#include "vswitch/sim/sim_config.hpp"
#include "vswitch/sim/simulation.hpp"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

using namespace halcyon::vswitch;

namespace {

int usage(const char* message) {
    std::fprintf(stderr,
                 "vswitch-sim: %s\nusage: vswitch-sim CONFIG.json --in PORT=FILE.pcap [--in ...] "
                 "--out-dir DIR\n",
                 message);
    return 1;
}

bool read_file(const std::string& path, std::vector<uint8_t>& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
}

bool write_file(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    return static_cast<bool>(out);
}

// Reads every record of a pcap; on damage keeps what came before and describes the damage.
std::vector<sim::Packet> load_pcap(const std::vector<uint8_t>& file, std::string& error) {
    std::vector<sim::Packet> packets;
    auto reader = pcap::Reader::open(file);
    if (reader.is_error()) {
        error = reader.error().message();
        return packets;
    }
    pcap::Record record;
    for (;;) {
        auto next = reader.value().next(record);
        if (next.is_error()) {
            error = std::string(next.error().message()) + " (packet index " +
                    std::to_string(reader.value().records_read()) + ", file offset " +
                    std::to_string(reader.value().offset()) + ")";
            return packets;
        }
        if (!next.value())
            return packets;
        packets.push_back({record.timestamp_ns,
                           std::vector<uint8_t>(record.data.begin(), record.data.end()),
                           record.original_length});
    }
}

std::vector<uint8_t> to_pcap(const std::vector<sim::OutputPacket>& packets) {
    std::vector<uint8_t> bytes(pcap::kFileHeaderSize);
    pcap::write_file_header(
        std::span<uint8_t, pcap::kFileHeaderSize>(bytes.data(), pcap::kFileHeaderSize));
    for (const sim::OutputPacket& packet : packets) {
        const size_t at = bytes.size();
        bytes.resize(at + pcap::kRecordHeaderSize);
        const uint32_t length = static_cast<uint32_t>(packet.bytes.size());
        pcap::write_record_header(
            std::span<uint8_t, pcap::kRecordHeaderSize>(bytes.data() + at, pcap::kRecordHeaderSize),
            packet.time_ns, length, length);
        bytes.insert(bytes.end(), packet.bytes.begin(), packet.bytes.end());
    }
    return bytes;
}

} // namespace

int main(int argc, char** argv) {
    std::string config_path, out_dir;
    std::vector<std::pair<std::string, std::string>> inputs;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--in" || arg == "--out-dir") {
            if (i + 1 == argc)
                return usage((arg + " needs a value").c_str());
            const std::string value = argv[++i];
            if (arg == "--out-dir") {
                out_dir = value;
                continue;
            }
            const size_t eq = value.find('=');
            if (eq == std::string::npos || eq == 0 || eq + 1 == value.size())
                return usage(("--in expects PORT=FILE.pcap, got \"" + value + "\"").c_str());
            inputs.emplace_back(value.substr(0, eq), value.substr(eq + 1));
        } else if (arg == "-h" || arg == "--help") {
            usage("runs a switch configuration over pcap files");
            return 0;
        } else if (!arg.empty() && arg[0] == '-') {
            return usage(("unknown option " + arg).c_str());
        } else if (config_path.empty()) {
            config_path = arg;
        } else {
            return usage("more than one configuration file given");
        }
    }
    if (config_path.empty())
        return usage("no configuration file given");
    if (out_dir.empty())
        return usage("--out-dir is required");

    std::vector<uint8_t> config_text;
    if (!read_file(config_path, config_text)) {
        std::fprintf(stderr, "vswitch-sim: cannot read %s: %s\n", config_path.c_str(),
                     std::strerror(errno));
        return 1;
    }
    sim::ConfigResult config = sim::load_config(
        std::string_view(reinterpret_cast<const char*>(config_text.data()), config_text.size()),
        config_path);
    if (!config.ok) {
        std::fprintf(stderr, "%s\n", config.error.c_str());
        return 1;
    }
    std::string error;
    auto simulation = sim::Simulation::create(config.config, error);
    if (!simulation) {
        std::fprintf(stderr, "%s: %s\n", config_path.c_str(), error.c_str());
        return 1;
    }

    std::vector<sim::InputSummary> summaries;
    std::set<std::string> seen;
    bool damaged = false;
    for (const auto& [port, file] : inputs) {
        if (!simulation->has_port(port))
            return usage(("--in names unknown port \"" + port + "\"").c_str());
        if (!seen.insert(port).second)
            return usage(("port \"" + port + "\" has two --in files").c_str());
        std::vector<uint8_t> bytes;
        if (!read_file(file, bytes)) {
            std::fprintf(stderr, "vswitch-sim: cannot read %s: %s\n", file.c_str(),
                         std::strerror(errno));
            return 1;
        }
        sim::InputSummary summary{port, file, 0, {}};
        std::vector<sim::Packet> packets = load_pcap(bytes, summary.error);
        summary.packets = packets.size();
        if (!summary.error.empty()) {
            damaged = true;
            std::fprintf(stderr, "vswitch-sim: %s: %s; using the %zu packets before it\n",
                         file.c_str(), summary.error.c_str(), packets.size());
        }
        simulation->set_input(port, std::move(packets));
        summaries.push_back(std::move(summary));
    }

    simulation->run();

    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) {
        std::fprintf(stderr, "vswitch-sim: cannot create %s: %s\n", out_dir.c_str(),
                     ec.message().c_str());
        return 1;
    }
    for (const std::string& port : simulation->port_names()) {
        if (!write_file(std::filesystem::path(out_dir) / (port + ".pcap"),
                        to_pcap(simulation->output(port)))) {
            std::fprintf(stderr, "vswitch-sim: cannot write %s/%s.pcap\n", out_dir.c_str(),
                         port.c_str());
            return 1;
        }
    }
    const std::string report = sim::make_report(*simulation, summaries);
    if (!write_file(std::filesystem::path(out_dir) / "report.json",
                    std::vector<uint8_t>(report.begin(), report.end()))) {
        std::fprintf(stderr, "vswitch-sim: cannot write %s/report.json\n", out_dir.c_str());
        return 1;
    }
    std::printf("vswitch-sim: %zu drops; outputs and report.json in %s\n",
                simulation->drops().size(), out_dir.c_str());
    return damaged ? 2 : 0;
}
