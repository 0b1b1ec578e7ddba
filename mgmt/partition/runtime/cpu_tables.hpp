// The management partition's own descriptor tables, loaded first thing (the GDT the core leaves
// lives in the page-table area and is not ours to rely on): a flat 64-bit GDT with a TSS whose
// IST1 is a separate crash stack, and an IDT that sends every exception (0-31) to the crash
// report (runtime/crash.cpp) on that stack, plus the local APIC timer and spurious vectors the
// idle loop uses (runtime/idle.cpp).
#pragma once

#include <stdint.h>

namespace halcyon::mgmt::partition {

inline constexpr uint8_t kTimerVector = 0xE0;
inline constexpr uint8_t kSpuriousVector = 0xFF;

void load_cpu_tables();

// Makes any further exception a triple fault (IDT limit 0): the last step of a crash report,
// which the core turns into a restart of the partition.
[[noreturn]] void triple_fault();

} // namespace halcyon::mgmt::partition
