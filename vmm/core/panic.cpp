#include "vmm/core/panic.hpp"

#include "lib/format/format.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/core/log.hpp"
#include "vmm/core/symbols.hpp"

#include <stdarg.h>
#include <stdint.h>

namespace halcyon {
namespace {

bool g_panicking = false;
bool g_others_stopped = false;
StopOtherCpus g_stop_other_cpus = nullptr;

// `caller_pc` is panic()'s return address and `caller_rbp` its caller's frame pointer, so the
// backtrace starts at the code that panicked.
[[noreturn]] void report_and_halt(const char* message, uint64_t caller_pc, uint64_t caller_rbp) {
    const x86::PerCpu* cpu = x86::this_cpu_if_ready();
    {
        log::EmergencyOutput out;
        out.print("PANIC: %s\n", message);
        out.print("PANIC cpu%u backtrace:\n", cpu != nullptr ? cpu->index : 0);
        symbols::print_backtrace(out, "PANIC", caller_pc, true, caller_rbp);
    }
    stop_other_cpus();
    x86::halt_forever();
}

} // namespace

bool panic_in_progress() {
    return __atomic_load_n(&g_panicking, __ATOMIC_ACQUIRE);
}

bool begin_panic() {
    return !__atomic_exchange_n(&g_panicking, true, __ATOMIC_ACQ_REL);
}

void set_stop_other_cpus(StopOtherCpus stop) {
    __atomic_store_n(&g_stop_other_cpus, stop, __ATOMIC_RELEASE);
}

void stop_other_cpus() {
    if (__atomic_exchange_n(&g_others_stopped, true, __ATOMIC_ACQ_REL))
        return;
    if (StopOtherCpus stop = __atomic_load_n(&g_stop_other_cpus, __ATOMIC_ACQUIRE))
        stop();
}

void panic(const char* message) {
    x86::cli();
    // A second panic (on any CPU) still gets reported: it may be the more useful one.
    begin_panic();
    // Our own frame pointer (the core keeps frame pointers): [rbp] is the caller's.
    const uint64_t rbp = x86::read_rbp();
    report_and_halt(message, reinterpret_cast<uint64_t>(__builtin_return_address(0)),
                    *reinterpret_cast<const uint64_t*>(rbp));
}

void panicf(const char* fmt, ...) {
    x86::cli();
    begin_panic();
    char message[256];
    va_list args;
    va_start(args, fmt);
    format::vformat(message, sizeof(message), fmt, args);
    va_end(args);
    const uint64_t rbp = x86::read_rbp();
    report_and_halt(message, reinterpret_cast<uint64_t>(__builtin_return_address(0)),
                    *reinterpret_cast<const uint64_t*>(rbp));
}

} // namespace halcyon
