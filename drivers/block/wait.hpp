// Bounded polling for the block drivers: a condition is checked, then re-checked after steps of
// Delay until it holds or the time is up. Time is counted in the delays taken (so the bound is
// at least `timeout_us`, more on a slow machine), never in a loop count.
#pragma once

#include "drivers/net/device_memory.hpp"

#include <stdint.h>

namespace halcyon::drivers::block {

inline constexpr uint32_t kPollStepUs = 10;

// True once `done()` holds; false when it still does not after `timeout_us`.
template <typename Done>
[[nodiscard]] bool poll_until(Delay& delay, uint64_t timeout_us, Done&& done) {
    uint64_t waited = 0;
    while (!done()) {
        if (waited >= timeout_us)
            return false;
        delay.delay_us(kPollStepUs);
        waited += kPollStepUs;
    }
    return true;
}

} // namespace halcyon::drivers::block
