#include "lib/clock.h"

uint64_t tsc_hz_from_pm_timer(uint32_t milliseconds) {
    const uint32_t first = pm_timer_read();
    if (first == 0xFFFFFFFFu && pm_timer_read() == 0xFFFFFFFFu)
        return 0;
    /* Start on a tick edge so the measurement is not off by a partial tick. */
    uint32_t start = pm_timer_read();
    const uint64_t give_up = rdtsc() + 10000000000ull;
    while (pm_timer_read() == start) {
        if (rdtsc() > give_up)
            return 0;
    }
    start = pm_timer_read();
    const uint64_t tsc_start = rdtsc();
    const uint32_t ticks = (uint32_t)(PM_TIMER_HZ * milliseconds / 1000);
    uint32_t now;
    do {
        now = pm_timer_read();
        if (rdtsc() > give_up)
            return 0;
    } while (now - start < ticks);
    const uint64_t tsc_end = rdtsc();
    return mul_div(tsc_end - tsc_start, PM_TIMER_HZ, now - start);
}

void spin_cycles(uint64_t cycles, bool interrupts) {
    const uint64_t end = rdtsc() + cycles;
    while (rdtsc() < end) {
        if (interrupts)
            accept_interrupts();
        else
            cpu_pause();
    }
}

bool spin_until(const volatile uint64_t* counter, uint64_t target, uint64_t timeout_cycles) {
    const uint64_t end = rdtsc() + timeout_cycles;
    while (*counter < target) {
        if (rdtsc() > end)
            return false;
        accept_interrupts();
    }
    return true;
}

uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c) {
    if (c == 0)
        return 0;
    /* 64x64->128 multiply and a 128/64 divide are a single instruction each on x86-64. */
    uint64_t high, low, quotient, remainder;
    __asm__("mulq %3" : "=a"(low), "=d"(high) : "a"(a), "rm"(b) : "cc");
    if (high >= c)
        return ~0ull; /* the quotient would not fit */
    __asm__("divq %4" : "=a"(quotient), "=d"(remainder) : "a"(low), "d"(high), "rm"(c) : "cc");
    return quotient;
}

bool within_percent(uint64_t measured, uint64_t expected, uint64_t percent) {
    const uint64_t slack = mul_div(expected, percent, 100);
    return measured + slack >= expected && measured <= expected + slack;
}
