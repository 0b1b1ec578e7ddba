// A simulated CPU for the scheduler: a clock, tasks with simple behaviours, and the run loop the
// VM worker runs for real (pick -> run until `until` or the task halts -> charge -> block on
// HLT; a wake from "another CPU" interrupts the current turn). Host only: unit tests use it to
// measure shares over simulated seconds, and sched-sim prints them.
#pragma once

#include "lib/base/error_or.hpp"
#include "sched/cpu_scheduler.hpp"

#include <span>
#include <stdint.h>
#include <vector>

namespace halcyon::sched::sim {

struct Task {
    const char* name = "";
    GroupParams params;
    // 0: always busy (a guest that never halts). Otherwise the task computes for burst_ticks,
    // then halts with its timer armed sleep_ticks later, and so on.
    uint64_t burst_ticks = 0;
    uint64_t sleep_ticks = 0;
    // > 0: the task starts halted without a timer and is woken explicitly (an interrupt from
    // another CPU) at this time.
    uint64_t wake_at = 0;
};

struct Options {
    uint64_t tsc_hz = 1'000'000'000;
    uint64_t slice_ticks = 10'000'000;
    uint64_t duration_ticks = 10'000'000'000;
    // How late the simulated caller gives the CPU back after `until` (exit latency). Busy tasks
    // run that much longer than they were allowed; the scheduler must absorb it.
    uint64_t overshoot_ticks = 0;
};

struct TaskResult {
    uint64_t ran_ticks = 0;
    double share = 0;         // ran_ticks / duration
    uint64_t wakeups = 0;     // times the task was picked after a halt
    uint64_t max_latency = 0; // longest delay from a wake-up becoming due to being picked
    uint64_t total_latency = 0;
};

struct Result {
    std::vector<TaskResult> tasks;
    uint64_t idle_ticks = 0;
    uint64_t decisions = 0;
    uint64_t switches = 0; // run decisions that changed the running task
};

// Runs `tasks` on one simulated CPU for options.duration_ticks. Fails only if the scheduler
// refuses a task (invalid params, reserves over 100%, too many tasks).
[[nodiscard]] ErrorOr<Result> simulate(const Options& options, std::span<const Task> tasks);

} // namespace halcyon::sched::sim
