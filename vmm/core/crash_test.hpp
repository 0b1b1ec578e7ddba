// The deliberate faults of `crash_test = ...` in halcyon.cfg, which exercise the crash report
// (vector name, registers, decoded instruction, symbolized backtrace) end to end.
#pragma once

#include "boot/config/config.hpp"

// Triggers `test` (returns at once for CrashTest::none). A never-inlined function with C linkage,
// so the report's backtrace shows exactly "crash_test_trigger+0x..." called from kernel_main.
extern "C" void crash_test_trigger(halcyon::config::CrashTest test);
