/* Time for the test guests: the TSC (guest TSC = host TSC, invariant) and the ACPI PM timer of
 * the guest platform (I/O port 0x608, 32 bits, 3.579545 MHz), the fixed-frequency reference a
 * guest calibrates the TSC against - exactly what an OS does on real hardware. */
#pragma once

#include "lib/guest.h"

#define PM_TIMER_PORT 0x608
#define PM_TIMER_HZ 3579545ull

static inline uint32_t pm_timer_read(void) {
    return inl(PM_TIMER_PORT);
}

/* The TSC frequency measured against the PM timer over about `milliseconds`, or 0 when the PM
 * timer does not count (reads all ones or never changes). */
uint64_t tsc_hz_from_pm_timer(uint32_t milliseconds);

/* Busy-waits `cycles` TSC cycles with PAUSE (which hands the physical CPU to others). With
 * `interrupts` the vCPU accepts interrupts meanwhile; it returns with them off either way. */
void spin_cycles(uint64_t cycles, bool interrupts);

/* Spins (PAUSE, interrupts accepted) until *counter >= target or `timeout_cycles` pass;
 * returns whether the target was reached. Returns with interrupts off. */
bool spin_until(const volatile uint64_t* counter, uint64_t target, uint64_t timeout_cycles);

/* a * b / c with a 128-bit intermediate product (all ones if the quotient overflows). */
uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c);

/* Whether `measured` lies within `percent` percent of `expected`. */
bool within_percent(uint64_t measured, uint64_t expected, uint64_t percent);
