// Fatal errors in the core: report and stop. panic() prints "PANIC: <message>" and a backtrace on
// the console (safely, even from inside the logger), asks the other CPUs to stop (through the hook
// the SMP code registers) and halts this CPU.
#pragma once

namespace halcyon {

[[noreturn]] void panic(const char* message);
[[noreturn]] __attribute__((format(printf, 1, 2))) void panicf(const char* fmt, ...);

// True once any CPU has panicked or crashed: an NMI arriving then means "stop", not a new fault.
[[nodiscard]] bool panic_in_progress();
// Marks the system as going down (panic() and the exception handler call it). Returns true for
// the first caller only.
bool begin_panic();

// Registered by the SMP code: sends every other online CPU a stop signal (an NMI). Called once by
// the first CPU that panics or crashes. Must not take locks.
using StopOtherCpus = void (*)();
void set_stop_other_cpus(StopOtherCpus stop);
// Runs the registered hook (if any) once; panic() and the crash path call it.
void stop_other_cpus();

} // namespace halcyon
