// lwIP's millisecond clock (sys_now) runs on the TSC; the service sets its frequency once.
#pragma once

#include <stdint.h>

namespace halcyon::mgmt::net {

void set_lwip_clock(uint64_t tsc_hz);
[[nodiscard]] uint64_t tsc_to_ms(uint64_t tsc);

} // namespace halcyon::mgmt::net
