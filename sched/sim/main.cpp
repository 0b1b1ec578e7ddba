// sched-sim: prints the CPU shares the scheduler gives in a few scenarios on one simulated CPU
// (2.5 GHz TSC, 10 ms slices, 10 s each), next to what the policy promises. Exits 1 if a share
// is more than 2 points off its promise (or below a reserve), so CTest runs it as a check.
#include "sched/sim/simulator.hpp"

#include <cmath>
#include <cstdio>
#include <vector>

namespace {

using halcyon::sched::GroupParams;
using halcyon::sched::sim::Task;

constexpr uint64_t kHz = 2'500'000'000;
constexpr uint64_t kMs = kHz / 1000;

// A promised share in percent; `at_least` for reserves (more is fine).
struct Promise {
    double percent;
    bool at_least = false;
};

struct Scenario {
    const char* title;
    std::vector<Task> tasks;
    std::vector<Promise> expected;
    uint64_t overshoot = 0;
};

constexpr double kTolerancePoints = 2.0;

Task busy(const char* name, uint32_t weight, uint32_t reserve = 0, uint32_t limit = 100) {
    return Task{name, GroupParams{weight, reserve, limit}};
}

bool run(const Scenario& scenario) {
    halcyon::sched::sim::Options options;
    options.tsc_hz = kHz;
    options.slice_ticks = 10 * kMs;
    options.duration_ticks = 10 * kHz;
    options.overshoot_ticks = scenario.overshoot;
    auto result = halcyon::sched::sim::simulate(options, scenario.tasks);
    std::printf("\n%s\n", scenario.title);
    if (result.is_error()) {
        std::printf("  refused: %s\n", result.error().message());
        return false;
    }
    std::printf("  %-12s %6s %7s %5s %7s %9s %12s\n", "task", "weight", "reserve", "limit", "share",
                "expected", "max latency");
    bool ok = true;
    for (size_t i = 0; i < scenario.tasks.size(); ++i) {
        const Task& task = scenario.tasks[i];
        const auto& stats = result.value().tasks[i];
        const Promise& promise = scenario.expected[i];
        const double share = stats.share * 100;
        const bool kept = promise.at_least ? share >= promise.percent - 0.5
                                           : std::fabs(share - promise.percent) <= kTolerancePoints;
        ok &= kept;
        char expected[32];
        std::snprintf(expected, sizeof(expected), "%s%.1f%%", promise.at_least ? ">=" : "",
                      promise.percent);
        char latency[32] = "-";
        if (stats.wakeups > 0)
            std::snprintf(latency, sizeof(latency), "%.2f ms",
                          static_cast<double>(stats.max_latency) / static_cast<double>(kMs));
        std::printf("  %-12s %6u %6u%% %4u%% %6.2f%% %9s %12s%s\n", task.name, task.params.weight,
                    task.params.reserve_percent, task.params.limit_percent, share, expected,
                    latency, kept ? "" : "  MISMATCH");
    }
    std::printf("  idle %.2f%%, %llu decisions, %llu switches\n",
                100.0 * static_cast<double>(result.value().idle_ticks) /
                    static_cast<double>(options.duration_ticks),
                static_cast<unsigned long long>(result.value().decisions),
                static_cast<unsigned long long>(result.value().switches));
    return ok;
}

} // namespace

int main() {
    Task interactive{"interactive", GroupParams{}, 1 * kMs, 9 * kMs};
    Task late_starter = busy("late", 100);
    late_starter.wake_at = 5 * kHz;
    const std::vector<Scenario> scenarios = {
        {"weights 100 : 300", {busy("a", 100), busy("b", 300)}, {{25}, {75}}},
        {"limit 30%, alone on the CPU", {busy("capped", 100, 0, 30)}, {{30}}},
        {"reserve 40% against three weight-10000 vCPUs",
         {busy("reserved", 100, 40), busy("heavy1", 10000), busy("heavy2", 10000),
          busy("heavy3", 10000)},
         {{40, true}, {20}, {20}, {20}}},
        {"weights 100 : 200 : 700, the 700 limited to 50%",
         {busy("small", 100), busy("medium", 200), busy("big", 700, 0, 50)},
         {{100.0 / 6}, {200.0 / 6}, {50}}},
        {"a vCPU computing 1 ms per 10 ms against two busy ones",
         {interactive, busy("busy1", 100), busy("busy2", 100)},
         {{10}, {45}, {45}}},
        {"a vCPU woken at 5 s does not cash in its 5 s asleep",
         {busy("early", 100), late_starter},
         {{75}, {25}}},
        {"weights 100 : 300, the 300 limited to 50%, every exit 0.5 ms late",
         {busy("a", 100), busy("b", 300, 0, 50)},
         {{50}, {50}},
         kMs / 2},
    };
    bool ok = true;
    for (const Scenario& scenario : scenarios)
        ok &= run(scenario);
    return ok ? 0 : 1;
}
