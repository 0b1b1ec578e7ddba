// The management partition's log (the functions of vmm/core/log.hpp, implemented in
// runtime/log.cpp): lines "[   12.345678] mgmt info: message" on COM1, the time counted from
// the core's entry (MgmtBootInfo::core_entry_tsc) so partition and core lines sort together.
#pragma once

#include <stdint.h>

namespace halcyon::mgmt::partition {

// Before this, lines carry time 0.
void set_log_clock(uint64_t tsc_hz, uint64_t core_entry_tsc);

} // namespace halcyon::mgmt::partition
