#include "sched/sim/simulator.hpp"

#include <algorithm>
#include <memory>

namespace halcyon::sched::sim {
namespace {

struct TaskState {
    EntityId id;
    uint64_t burst_left = 0;
    uint64_t due = kNoEvent; // when the current halt ends, for latency (kNoEvent: running)
};

struct WakeEvent {
    uint64_t at;
    size_t task;
};

size_t task_of(const std::vector<TaskState>& states, EntityId id) {
    for (size_t i = 0; i < states.size(); ++i)
        if (states[i].id == id)
            return i;
    return states.size();
}

} // namespace

ErrorOr<Result> simulate(const Options& options, std::span<const Task> tasks) {
    auto scheduler = std::make_unique<CpuScheduler>(options.tsc_hz, options.slice_ticks);
    std::vector<TaskState> states(tasks.size());
    std::vector<WakeEvent> events; // explicit wakes, in time order
    for (size_t i = 0; i < tasks.size(); ++i) {
        states[i].id = TRY(scheduler->add(tasks[i].params));
        states[i].burst_left = tasks[i].burst_ticks;
        if (tasks[i].wake_at > 0) {
            TRY(scheduler->block(states[i].id, kNoEvent));
            states[i].due = tasks[i].wake_at;
            events.push_back({tasks[i].wake_at, i});
        }
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const WakeEvent& a, const WakeEvent& b) { return a.at < b.at; });

    Result result;
    result.tasks.resize(tasks.size());
    size_t next_event = 0;
    size_t last_task = tasks.size();
    uint64_t now = 0;
    const uint64_t end = options.duration_ticks;
    auto deliver_due_wakes = [&] {
        for (; next_event < events.size() && events[next_event].at <= now; ++next_event)
            (void)scheduler->wake(states[events[next_event].task].id);
    };
    while (now < end) {
        const Decision decision = scheduler->pick(now);
        ++result.decisions;
        const uint64_t event_at = next_event < events.size() ? events[next_event].at : kNoEvent;
        if (decision.kind == Decision::Kind::empty)
            break;
        if (decision.kind == Decision::Kind::idle) {
            const uint64_t until = std::min({decision.wake_at, event_at, end});
            result.idle_ticks += until - now;
            now = until;
            deliver_due_wakes();
            continue;
        }
        const size_t index = task_of(states, decision.entity);
        TaskState& state = states[index];
        TaskResult& stats = result.tasks[index];
        if (state.due != kNoEvent) {
            const uint64_t latency = now > state.due ? now - state.due : 0;
            stats.max_latency = std::max(stats.max_latency, latency);
            stats.total_latency += latency;
            ++stats.wakeups;
            state.due = kNoEvent;
        }
        if (index != last_task)
            ++result.switches;
        last_task = index;

        // The turn ends at `until` (plus the caller's lateness), when the task halts, or when an
        // interrupt from another CPU kicks this one.
        uint64_t stop = std::min(decision.until + options.overshoot_ticks, end);
        const bool halts = tasks[index].burst_ticks != 0 && now + state.burst_left <= stop;
        if (halts)
            stop = now + state.burst_left;
        const bool kicked = event_at < stop;
        if (kicked)
            stop = event_at;
        const uint64_t ran = stop - now;
        now = stop;
        stats.ran_ticks += ran;
        TRY(scheduler->charge(state.id, ran, now));
        if (halts && !kicked) {
            state.burst_left = tasks[index].burst_ticks;
            state.due = now + tasks[index].sleep_ticks;
            TRY(scheduler->block(state.id, state.due));
        } else if (tasks[index].burst_ticks != 0) {
            state.burst_left -= ran;
        }
        deliver_due_wakes();
    }
    for (TaskResult& stats : result.tasks)
        stats.share =
            end == 0 ? 0 : static_cast<double>(stats.ran_ticks) / static_cast<double>(end);
    return result;
}

} // namespace halcyon::sched::sim
