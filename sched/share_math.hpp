// The arithmetic of the scheduling policy, kept apart so its overflow reasoning is in one place.
// Everything is 64-bit (the core links no compiler-rt, so no 128-bit division): the inputs are
// bounded instead (window usage never exceeds two accounting periods, percentages 0..100).
#pragma once

#include "sched/params.hpp"

#include <stdint.h>

namespace halcyon::sched::math {

// Virtual time wraps around after a few years of weight-1 CPU time; it is only ever compared
// by difference, the way TCP sequence numbers are, so the wrap is harmless.
[[nodiscard]] constexpr bool vtime_before(uint64_t a, uint64_t b) {
    return static_cast<int64_t>(a - b) < 0;
}
[[nodiscard]] constexpr uint64_t vtime_max(uint64_t a, uint64_t b) {
    return vtime_before(a, b) ? b : a;
}

// `percent` percent of `ticks`, without overflow for any 64-bit tick count.
[[nodiscard]] constexpr uint64_t percent_of(uint64_t ticks, uint32_t percent) {
    return ticks / 100 * percent + ticks % 100 * percent / 100;
}

// Virtual time an entity of `weight` accrues for `ran` ticks of CPU: ran * 100 / weight, so a
// default-weight entity's virtual time advances with real time. `remainder` carries the
// fraction lost to the division into the next charge, so heavy weights (up to 10000, where one
// virtual tick is 100 real ticks) are not rounded down charge after charge.
[[nodiscard]] constexpr uint64_t weighted_advance(uint64_t ran, uint32_t weight,
                                                  uint32_t& remainder) {
    constexpr uint64_t kMaxRan = UINT64_MAX / kDefaultWeight / 2;
    if (ran > kMaxRan)
        ran = kMaxRan; // decades of CPU time in one charge: a caller bug, keep the math defined
    const uint64_t scaled = ran * kDefaultWeight + remainder;
    remainder = static_cast<uint32_t>(scaled % weight);
    return scaled / weight;
}

// Whether an entity with `reserve_percent` that used `used` ticks of the current window is
// behind its guarantee. The guarantee is paced over the window (a reserve of 40% owes 4 ms
// after 10 ms) rather than front-loaded, so the entities without a reserve are not shut out at
// the start of each window. `horizon` is the elapsed window time plus one slice: an entity that
// would fall behind before the CPU is next picked is served now, which keeps its deficit at the
// window's end below one slice even when another entity holds the CPU in between.
[[nodiscard]] constexpr bool behind_reserve(uint64_t used, uint32_t reserve_percent,
                                            uint64_t horizon, uint64_t period) {
    if (reserve_percent == 0)
        return false;
    if (horizon > period)
        horizon = period;
    // used <= 2 periods and horizon <= period, so both products fit easily.
    return used * 100 < horizon * reserve_percent;
}

// Whether entity a (used_a ticks against reserve_a percent) is further behind its reserve than
// b, comparing used/reserve ratios without division. Reserves are non-zero here.
[[nodiscard]] constexpr bool further_behind(uint64_t used_a, uint32_t reserve_a, uint64_t used_b,
                                            uint32_t reserve_b) {
    return used_a * reserve_b < used_b * reserve_a;
}

static_assert(percent_of(UINT64_MAX, 100) == UINT64_MAX);
static_assert(percent_of(1000, 30) == 300);
static_assert(vtime_before(UINT64_MAX - 5, 3) && !vtime_before(3, UINT64_MAX - 5));

} // namespace halcyon::sched::math
