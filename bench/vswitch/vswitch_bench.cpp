// vswitch pipeline benchmark: packets per second and ns per packet, 64- and 1500-byte frames,
// bursts of 32, one core, median of repeated runs, next to a copy-only baseline in the same run.
//
//   vswitch_bench                       the whole table (wall clock)
//   vswitch_bench --row ROW --size N --packets P --callgrind
//       one row for bench/vswitch/callgrind.sh: warms up, then runs P packets between
//       CALLGRIND_START/STOP_INSTRUMENTATION so `valgrind --tool=callgrind --instr-atstart=no`
//       counts only the measured loop. ROW: copy, l2, acl, encap, decap.
//   --no-caches (with either) builds the ACL and NVGRE rows without their exact-match caches.
#include "bench/vswitch/scenarios.hpp"

#include <valgrind/callgrind.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace halcyon::vswitch::bench;

namespace {

constexpr Row kRows[] = {Row::copy_baseline, Row::l2_forward, Row::acl_1000, Row::nvgre_encap,
                         Row::nvgre_decap};

// Runs `packets` packets; false (and a message) if any frame was not delivered.
[[gnu::noinline]] bool run_packets(Scenario& scenario, uint64_t packets) {
    uint64_t delivered = 0;
    for (uint64_t sent = 0; sent < packets; sent += kBurst)
        delivered += scenario.run_burst();
    const uint64_t expected = (packets + kBurst - 1) / kBurst * kBurst;
    if (delivered != expected) {
        std::fprintf(stderr, "benchmark lost frames: %llu of %llu delivered; drops: %s\n",
                     static_cast<unsigned long long>(delivered),
                     static_cast<unsigned long long>(expected),
                     scenario.drops_description().c_str());
        return false;
    }
    return true;
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

int table(int repeats, bool caches) {
    std::printf("%-26s %6s %14s %10s %12s\n", "row", "bytes", "packets/s", "ns/packet",
                "x baseline");
    for (uint32_t size : {64u, 1500u}) {
        double baseline_ns = 0;
        const uint64_t packets = size == 64 ? 2'000'000 : 500'000;
        for (Row row : kRows) {
            auto scenario = make_scenario(row, size, caches);
            if (!run_packets(*scenario, packets / 4)) // warm caches and tables
                return 1;
            std::vector<double> ns_per_packet;
            for (int r = 0; r < repeats; ++r) {
                const auto start = std::chrono::steady_clock::now();
                if (!run_packets(*scenario, packets))
                    return 1;
                const auto end = std::chrono::steady_clock::now();
                ns_per_packet.push_back(
                    std::chrono::duration<double, std::nano>(end - start).count() /
                    static_cast<double>(packets));
            }
            const double ns = median(ns_per_packet);
            if (row == Row::copy_baseline)
                baseline_ns = ns;
            std::printf("%-26s %6u %14.0f %10.1f %12.2f\n", row_name(row), size, 1e9 / ns, ns,
                        ns / baseline_ns);
            std::fflush(stdout);
        }
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    std::string row_arg;
    uint32_t size = 64;
    uint64_t packets = 100'000;
    bool callgrind = false;
    int repeats = 7;
    bool caches = true;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 == argc) {
                std::fprintf(stderr, "%s needs a value\n", arg.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (arg == "--row")
            row_arg = value();
        else if (arg == "--size")
            size = static_cast<uint32_t>(std::stoul(value()));
        else if (arg == "--packets")
            packets = std::stoull(value());
        else if (arg == "--repeats")
            repeats = std::max(1, std::stoi(value()));
        else if (arg == "--callgrind")
            callgrind = true;
        else if (arg == "--no-caches")
            caches = false;
        else {
            std::fprintf(stderr, "usage: vswitch_bench [--repeats N] [--no-caches] | --row "
                                 "copy|l2|acl|encap|decap --size 64|1500 --packets N --callgrind "
                                 "[--no-caches]\n");
            return 2;
        }
    }
    if (!callgrind)
        return table(repeats, caches);
    for (Row row : kRows) {
        if (row_arg != row_description(row))
            continue;
        auto scenario = make_scenario(row, size, caches);
        if (!run_packets(*scenario, packets)) // warm-up, not counted
            return 1;
        CALLGRIND_ZERO_STATS;
        CALLGRIND_START_INSTRUMENTATION;
        const bool ok = run_packets(*scenario, packets);
        CALLGRIND_STOP_INSTRUMENTATION;
        return ok ? 0 : 1;
    }
    std::fprintf(stderr, "unknown row %s\n", row_arg.c_str());
    return 2;
}
