#include "vmm/core/crash_test.hpp"

#include "vmm/core/log.hpp"

#include <stdint.h>

using namespace halcyon;

extern "C" __attribute__((noinline)) void crash_test_trigger(config::CrashTest test) {
    switch (test) {
    case config::CrashTest::none:
        return;
    case config::CrashTest::page_fault: {
        log::info("crash test: writing to an unmapped address");
        // The lowest canonical-high page below the core's image is never mapped; volatile so the
        // compiler keeps the store.
        auto* unmapped = reinterpret_cast<volatile uint64_t*>(0xFFFF'FFFF'7FFF'F000ULL);
        *unmapped = 0xDEAD;
        break;
    }
    case config::CrashTest::invalid_opcode:
        log::info("crash test: executing ud2");
        asm volatile("ud2");
        break;
    case config::CrashTest::divide_error: {
        log::info("crash test: dividing by zero");
        // In assembly: a C++ division by zero is undefined behaviour the compiler may drop.
        uint64_t dividend = 1;
        uint64_t divisor = 0;
        asm volatile("xorl %%edx, %%edx\n\tdivq %1" : "+a"(dividend) : "r"(divisor) : "rdx");
        break;
    }
    }
    log::error("crash test: the fault did not happen");
}
