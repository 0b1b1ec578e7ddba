// Leaving the firmware: the last memory map, ExitBootServices, and the map normalized into
// the hand-off.
#pragma once

#include "boot/handoff/handoff.hpp"
#include "lib/base/error_or.hpp"

#include <stdint.h>

namespace halcyon::loader {

// One past the highest physical address in the current memory map (boot services still on).
[[nodiscard]] ErrorOr<uint64_t> highest_physical_address();

// Allocates everything it needs up front, gets the final memory map, exits boot services
// (retrying when the map changed in between, as the specification requires), then fills
// handoff.memory_map / memory_region_count / exit_boot_services_tsc. On success the firmware's
// boot services are gone: firmware().boot_services is nullptr and nothing may be allocated.
[[nodiscard]] ErrorOr<void> exit_boot_services(handoff::Handoff& handoff);

} // namespace halcyon::loader
