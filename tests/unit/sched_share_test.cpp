// The scheduler's CPU shares over simulated seconds (sched/sim): relative weights, limits (alone
// and under contention, also with a caller that gives the CPU back late), reserves against heavy
// competition, a latency-sensitive vCPU among busy ones, many vCPUs, and determinism.
#include "sched/sim/simulator.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using halcyon::sched::GroupParams;
using namespace halcyon::sched::sim;

constexpr uint64_t kHz = 1'000'000'000; // 1 GHz: one tick is one nanosecond
constexpr uint64_t kMs = kHz / 1000;

Task busy(uint32_t weight, uint32_t reserve = 0, uint32_t limit = 100) {
    return Task{"busy", GroupParams{weight, reserve, limit}};
}

Result simulate_ok(const std::vector<Task>& tasks, uint64_t seconds = 10, uint64_t slice = 10 * kMs,
                   uint64_t overshoot = 0) {
    Options options;
    options.tsc_hz = kHz;
    options.slice_ticks = slice;
    options.duration_ticks = seconds * kHz;
    options.overshoot_ticks = overshoot;
    auto result = simulate(options, tasks);
    EXPECT_FALSE(result.is_error()) << result.error().message();
    return result.is_error() ? Result{} : result.release_value();
}

TEST(SchedShare, WeightsOneToThreeGiveAQuarterAndThreeQuarters) {
    const Result result = simulate_ok({busy(100), busy(300)});
    ASSERT_EQ(result.tasks.size(), 2u);
    EXPECT_NEAR(result.tasks[0].share, 0.25, 0.02);
    EXPECT_NEAR(result.tasks[1].share, 0.75, 0.02);
    EXPECT_EQ(result.idle_ticks, 0u); // work-conserving
}

TEST(SchedShare, ExtremeWeightsStillRunTheLightOne) {
    // 1 : 10000 over 10 s with 1 ms slices: the light vCPU gets ~1 ms per 10 s, never zero.
    const Result result = simulate_ok({busy(1), busy(10000)}, 10, kMs);
    EXPECT_GT(result.tasks[0].ran_ticks, 0u);
    EXPECT_LT(result.tasks[0].share, 0.002);
    EXPECT_NEAR(result.tasks[1].share, 1.0, 0.002);
}

TEST(SchedShare, LimitCapsAVcpuThatIsAlone) {
    const Result result = simulate_ok({busy(100, 0, 30)});
    EXPECT_NEAR(result.tasks[0].share, 0.30, 0.02);
    EXPECT_LE(result.tasks[0].share, 0.30 + 1e-9);
    EXPECT_NEAR(static_cast<double>(result.idle_ticks) / (10.0 * kHz), 0.70, 0.02);
}

TEST(SchedShare, LimitCapsAHeavyVcpuUnderContention) {
    // Weight alone would give the heavy one 99%; the limit holds it at 30%, the rest goes to the
    // light one (the CPU is not left idle).
    const Result result = simulate_ok({busy(10000, 0, 30), busy(100)});
    EXPECT_NEAR(result.tasks[0].share, 0.30, 0.02);
    EXPECT_NEAR(result.tasks[1].share, 0.70, 0.02);
    EXPECT_EQ(result.idle_ticks, 0u);
}

TEST(SchedShare, LimitHoldsWhenTheCallerGivesTheCpuBackLate) {
    // Every turn overruns `until` by 2 ms; the overdraft is carried into the next window.
    const Result result = simulate_ok({busy(100, 0, 30)}, 10, 10 * kMs, 2 * kMs);
    EXPECT_NEAR(result.tasks[0].share, 0.30, 0.01);
}

TEST(SchedShare, ReserveIsMetAgainstThreeHeavyVcpus) {
    // Weight 100 against three of weight 10000 would get ~0.3%; the 40% reserve lifts it.
    const Result result = simulate_ok({busy(100, 40), busy(10000), busy(10000), busy(10000)});
    EXPECT_GE(result.tasks[0].share, 0.40 - 0.005);
    EXPECT_LE(result.tasks[0].share, 0.42);
    for (size_t i = 1; i < 4; ++i)
        EXPECT_NEAR(result.tasks[i].share, 0.20, 0.02) << i;
}

TEST(SchedShare, ReserveIsMetWithShortSlicesAndLateExits) {
    const Result result =
        simulate_ok({busy(100, 40), busy(10000), busy(10000), busy(10000)}, 10, 3 * kMs, kMs);
    EXPECT_GE(result.tasks[0].share, 0.40 - 0.005);
}

TEST(SchedShare, TwoReservesAreBothMet) {
    const Result result = simulate_ok({busy(10000), busy(1, 30), busy(1, 50), busy(10000)});
    EXPECT_GE(result.tasks[1].share, 0.30 - 0.005);
    EXPECT_GE(result.tasks[2].share, 0.50 - 0.005);
    EXPECT_NEAR(result.tasks[0].share, result.tasks[3].share, 0.01);
}

TEST(SchedShare, ReserveIsAFloorNotACap) {
    // 300 : 100 gives 75% by weight, above the 40% reserve: the weight decides.
    const Result result = simulate_ok({busy(300, 40), busy(100)});
    EXPECT_NEAR(result.tasks[0].share, 0.75, 0.02);
}

TEST(SchedShare, ReserveAndLimitTogether) {
    // A vCPU with reserve 20% and limit 25% among two heavy ones: between the two.
    const Result result = simulate_ok({busy(1, 20, 25), busy(10000), busy(10000)});
    EXPECT_GE(result.tasks[0].share, 0.20 - 0.005);
    EXPECT_LE(result.tasks[0].share, 0.25 + 1e-9);
}

TEST(SchedShare, WeightsWithOneLimitedVcpu) {
    // 100 : 200 : 700 with the 700 limited to 50%: the remaining half goes 1 : 2.
    const Result result = simulate_ok({busy(100), busy(200), busy(700, 0, 50)});
    EXPECT_NEAR(result.tasks[0].share, 1.0 / 6, 0.02);
    EXPECT_NEAR(result.tasks[1].share, 2.0 / 6, 0.02);
    EXPECT_NEAR(result.tasks[2].share, 0.50, 0.02);
}

TEST(SchedShare, AVcpuThatHaltsOftenIsPickedPromptlyWhenItsTimerFires) {
    Task interactive{"interactive", GroupParams{}, 1 * kMs, 9 * kMs};
    const Result result = simulate_ok({busy(100), interactive, busy(100)});
    EXPECT_NEAR(result.tasks[1].share, 0.10, 0.01);
    EXPECT_GT(result.tasks[1].wakeups, 900u);
    // The busy vCPU's turn is cut at the timer deadline, so the typical wake-up is immediate.
    EXPECT_LT(result.tasks[1].total_latency / result.tasks[1].wakeups, kMs / 10);
    EXPECT_NEAR(result.tasks[0].share, 0.45, 0.02);
    EXPECT_NEAR(result.tasks[2].share, 0.45, 0.02);
}

TEST(SchedShare, ManyVcpusShareByWeight) {
    std::vector<Task> tasks;
    uint64_t weight_sum = 0;
    for (uint32_t i = 0; i < 64; ++i) {
        tasks.push_back(busy(100 * (1 + i % 4)));
        weight_sum += 100 * (1 + i % 4);
    }
    const Result result = simulate_ok(tasks, 20, kMs);
    for (uint32_t i = 0; i < 64; ++i) {
        const double expected = 100.0 * (1 + i % 4) / static_cast<double>(weight_sum);
        EXPECT_NEAR(result.tasks[i].share, expected, expected * 0.05) << i;
    }
}

TEST(SchedShare, SameInputsGiveTheSameSchedule) {
    Task interactive{"interactive", GroupParams{}, 3 * kMs, 7 * kMs};
    const std::vector<Task> tasks = {busy(100, 10), interactive, busy(700, 0, 40), busy(100)};
    const Result first = simulate_ok(tasks, 3, 4 * kMs, 123);
    const Result second = simulate_ok(tasks, 3, 4 * kMs, 123);
    EXPECT_EQ(first.decisions, second.decisions);
    EXPECT_EQ(first.switches, second.switches);
    for (size_t i = 0; i < tasks.size(); ++i) {
        EXPECT_EQ(first.tasks[i].ran_ticks, second.tasks[i].ran_ticks);
        EXPECT_EQ(first.tasks[i].max_latency, second.tasks[i].max_latency);
    }
}

TEST(SchedShare, TooManyReservesAreRefusedUpFront) {
    Options options;
    auto result = simulate(options, std::vector<Task>{busy(100, 60), busy(100, 50)});
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), halcyon::ErrorCode::out_of_range);
}

} // namespace
