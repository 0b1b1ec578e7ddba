// The jump from the loader into the core.
#pragma once

#include <stdint.h>

namespace halcyon::loader {

// Enables no-execute pages (EFER.NXE, needed before any table with NX bits is live), loads
// `page_table_root` into CR3, sets CR0.WP, switches to `stack_top` and jumps to `entry` with
// rdi = `handoff_physical`, as the SysV ABI's first argument of
// `core_entry(uint64_t handoff_physical)`. Interrupts stay disabled.
[[noreturn]] void enter_core(uint64_t page_table_root, uint64_t stack_top, uint64_t entry,
                             uint64_t handoff_physical);

} // namespace halcyon::loader
