// A one-slot mailbox per CPU, the simplest way to give an application processor work until the
// scheduler exists: the BSP posts a function and an argument, wakes the AP with an IPI, and can
// wait until the AP has run it. An AP that serves its mailbox sleeps in `sti; hlt` between jobs,
// so an idle AP costs nothing (under TCG a spinning AP would burn a host thread).
//
// The VM worker uses it to run vCPUs on every CPU.
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/arch/x86_64/percpu.hpp"

#include <stdint.h>

namespace halcyon::x86::mailbox {

// The IPI vector that wakes a CPU for its mailbox.
inline constexpr uint8_t kWakeVector = 0xF0;

using Work = void (*)(void* argument);

// The AP side: never returns. Call as the AP's last step of bring-up, interrupts disabled.
[[noreturn]] void serve_forever(PerCpu& cpu);

// Whether CPU `index` serves its mailbox (a parked CPU does not).
[[nodiscard]] bool serving(uint32_t index);

// Hands `work(argument)` to CPU `index`. Fails with busy while its previous job still runs, and
// with not_supported for a CPU that does not serve its mailbox (or the calling CPU itself).
[[nodiscard]] ErrorOr<void> post(uint32_t index, Work work, void* argument);

// Waits (with pause) until CPU `index` has no job.
void wait_idle(uint32_t index);

} // namespace halcyon::x86::mailbox
