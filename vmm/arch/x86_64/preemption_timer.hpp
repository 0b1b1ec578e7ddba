// A periodic local-APIC timer that takes the CPU back from a guest: with the SVM INTR intercept
// its interrupt forces a #VMEXIT even when the guest never exits on its own (a spinning vCPU
// must not keep other vCPUs of the same CPU from running). The interrupt itself does nothing
// but count; the exit is the point.
//
// Per CPU: start() and stop() program the calling CPU's own timer. The first start() on a CPU
// calibrates the timer against the TSC.
#pragma once

#include "lib/base/error_or.hpp"

#include <stdint.h>

namespace halcyon::x86::preemption_timer {

inline constexpr uint8_t kVector = 0xEF;

[[nodiscard]] ErrorOr<void> start(uint32_t period_microseconds);
void stop();

// One-shot use: the calling CPU's timer fires once at TSC value `deadline` (at once if it has
// passed; at most one second ahead, the caller re-arms). Calibrates on first use like start().
[[nodiscard]] ErrorOr<void> arm(uint64_t deadline);

// Another CPU's kick: makes CPU `cpu_index` leave its guest (INTR exit) or its idle HLT now.
inline constexpr uint8_t kKickVector = 0xEE;
[[nodiscard]] ErrorOr<void> kick(uint32_t cpu_index);

// Timer interrupts taken on the calling CPU since boot.
[[nodiscard]] uint64_t ticks();

} // namespace halcyon::x86::preemption_timer
