/* lapic_timer: the local APIC timer as the platform defines it (100 MHz, xAPIC MMIO at
 * 0xFEE00000, x2APIC MSRs, TSC-deadline MSR 0x6E0), judged by what real hardware does:
 *   - the current-count register counts at 100 MHz (against the ACPI PM timer) and the divide
 *     configuration divides it (ratios against divide 1);
 *   - one-shot mode fires once, on time, and leaves the current count at 0;
 *   - periodic mode fires every period, the current count wraps, a 0 initial count stops it;
 *   - a masked timer raises nothing but still counts down;
 *   - the same in x2APIC mode (CPUID.1:ECX[21], IA32_APIC_BASE.EXTD);
 *   - TSC-deadline mode (CPUID.1:ECX[24]): fires at the deadline, the MSR reads 0 afterwards,
 *     writing 0 disarms, the initial-count register is ignored.
 * Interrupts go through an IDT handler that counts and sends the EOI; waits are HLT with
 * interrupts enabled, so every timer test is also a test of HLT wake-up. Each test programs
 * its own vector, so an interrupt of an earlier test that arrives late (the host may delay
 * delivery by milliseconds) is counted as stray rather than confusing a later test. */
#include "lib/apic.h"
#include "lib/clock.h"

#define FIRST_VECTOR 0x40
#define LAST_VECTOR 0x7F
#define MAX_STAMPS 32

static struct checks checks = {"lapic_timer", 0, 0};
static volatile uint8_t vector_now = FIRST_VECTOR; /* the current test's vector */
static volatile uint64_t fired;                    /* its interrupts */
static volatile uint64_t stray;                    /* interrupts of earlier tests */
static volatile uint64_t stamps[MAX_STAMPS];       /* TSC at each interrupt */

/* TSC frequency: measured against the PM timer, or estimated from the LAPIC timer when there
 * is no PM timer (then only the ratio checks stay meaningful). */
static uint64_t tsc_hz;
/* TSC cycles per 1000 LAPIC timer ticks at divide 1, measured by rate(). */
static uint64_t cycles_per_kilotick;

static void timer_handler(struct trap_frame* frame) {
    const uint64_t now = rdtsc();
    apic_eoi();
    if (frame->vector != vector_now) {
        ++stray;
        return;
    }
    const uint64_t n = fired;
    if (n < MAX_STAMPS)
        stamps[n] = now;
    fired = n + 1;
}

static uint64_t ms(uint64_t milliseconds) {
    return mul_div(tsc_hz, milliseconds, 1000);
}

static uint64_t microseconds(uint64_t cycles) {
    return mul_div(cycles, 1000000, tsc_hz);
}

static uint64_t ticks_to_cycles(uint64_t ticks) {
    return mul_div(ticks, cycles_per_kilotick, 1000);
}

static void timer_stop(void) {
    apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED | vector_now);
    apic_write(APIC_TIMER_INITIAL, 0);
}

/* Starts a test: the timer stopped, a fresh vector, no interrupts counted. */
static void new_test(void) {
    timer_stop();
    vector_now = vector_now == LAST_VECTOR ? FIRST_VECTOR : vector_now + 1;
    fired = 0;
}

/* Interrupts the timer raised before it was stopped may still be on their way: let them in
 * until none has come for 5 ms, so they do not count for the next test. */
static void drain(void) {
    uint64_t before;
    do {
        before = fired;
        spin_cycles(ms(5), true);
    } while (fired != before);
}

static void wait_fired(uint64_t count) {
    while (fired < count)
        wait_for_interrupt();
}

/* Timer ticks counted by the current-count register over `window` TSC cycles with `divisor`
 * (masked, so nothing fires). Each register read is bracketed by RDTSC and timed at its middle,
 * which takes the exit latency of the read out of the measurement. */
struct rate {
    uint64_t ticks;
    uint64_t cycles;
};

static struct rate rate(uint32_t divisor, uint64_t window) {
    /* A read that took long (the vCPU lost its CPU in between) blurs its timestamp: measure
     * again, up to 5 times, until both reads took less than 1% of the window together. */
    struct rate best = {0, 0};
    uint64_t best_blur = ~0ull;
    for (int attempt = 0; attempt < 5 && best_blur > window / 100; ++attempt) {
        timer_stop();
        apic_write(APIC_TIMER_DIVIDE, apic_divide_value(divisor));
        apic_write(APIC_TIMER_INITIAL, 0xFFFFFFFFu);
        const uint64_t a0 = rdtsc();
        const uint32_t first = apic_read(APIC_TIMER_CURRENT);
        const uint64_t a1 = rdtsc();
        while (rdtsc() < a0 + window)
            cpu_pause();
        const uint64_t b0 = rdtsc();
        const uint32_t last = apic_read(APIC_TIMER_CURRENT);
        const uint64_t b1 = rdtsc();
        timer_stop();
        const uint64_t blur = (a1 - a0) + (b1 - b0);
        if (blur < best_blur) {
            best_blur = blur;
            best.ticks = first >= last ? first - last : 0;
            best.cycles = (b0 + b1) / 2 - (a0 + a1) / 2;
        }
    }
    return best;
}

/* Fired `elapsed` TSC cycles after arming where `expected` was programmed: never early (3% for
 * the calibration). How late is a matter of the host's scheduling, so single measurements get
 * a loose bound, and a strict one applies to the best of several (jitter only ever adds). */
static bool check_duration(const char* what, uint64_t elapsed, uint64_t expected, bool strict) {
    check_begin(&checks, what);
    print_value("elapsed_us", microseconds(elapsed));
    print_value("expected_us", microseconds(expected));
    /* Strict: 25% + 3 ms. The host is QEMU TCG on a shared machine (CI runs unit tests next to
     * it), where a vCPU thread can lose its host CPU for milliseconds. */
    const uint64_t latest = strict ? expected + expected / 4 + ms(3) : expected * 2 + ms(20);
    return check_end(&checks, elapsed * 100 >= expected * 97 && elapsed <= latest);
}

static bool check_value(const char* what, const char* label, uint64_t value, bool ok) {
    check_begin(&checks, what);
    print_value_hex(label, value);
    return check_end(&checks, ok);
}

static void calibrate(void) {
    tsc_hz = tsc_hz_from_pm_timer(30);
    check_begin(&checks, "ACPI PM timer counts (TSC calibration)");
    print_value("tsc_hz", tsc_hz);
    check_end(&checks, tsc_hz != 0);
    /* Window sizes need some TSC frequency even without a PM timer: assume 3 GHz for the
     * first measurement, then derive it from the LAPIC timer's nominal 100 MHz. */
    const struct rate base = rate(1, tsc_hz != 0 ? ms(30) : 90000000ull);
    if (tsc_hz == 0)
        tsc_hz = base.ticks != 0 ? mul_div(base.cycles, APIC_TIMER_HZ, base.ticks) : 3000000000ull;
    check_begin(&checks, "current count decreases (divide 1)");
    print_value("ticks", base.ticks);
    print_value("cycles", base.cycles);
    check_end(&checks, base.ticks != 0);
    cycles_per_kilotick = base.ticks != 0 ? mul_div(base.cycles, 1000, base.ticks) : 30000;

    check_begin(&checks, "timer clock is 100 MHz (+-10%)");
    const uint64_t hz = mul_div(base.ticks, tsc_hz, base.cycles);
    print_value("measured_hz", hz);
    check_end(&checks, within_percent(hz, APIC_TIMER_HZ, 10));

    /* Every divisor against divide 1: ticks per 10^6 TSC cycles. */
    const uint64_t base_rate = mul_div(base.ticks, 1000000, base.cycles);
    for (uint32_t divisor = 2; divisor <= 128; divisor *= 2) {
        const struct rate divided = rate(divisor, ms(10));
        const uint64_t divided_rate = mul_div(divided.ticks, 1000000, divided.cycles);
        check_begin(&checks, "divide by ");
        print_dec(divisor);
        print(" slows the count by that factor (+-20%)");
        const uint64_t ratio_percent = divided_rate ? mul_div(base_rate, 100, divided_rate) : 0;
        print_value("ratio_x100", ratio_percent);
        check_end(&checks, within_percent(ratio_percent, divisor * 100, 20));
    }
}

/* The first one-shot waits by spinning with a timeout, so a timer that never fires is a FAIL
 * line rather than a guest halted forever. Returns whether the timer fired at all. */
static bool one_shot_spinning(void) {
    new_test();
    apic_write(APIC_TIMER_DIVIDE, apic_divide_value(1));
    apic_write(APIC_LVT_TIMER, APIC_TIMER_ONE_SHOT | vector_now);
    const uint64_t armed = rdtsc();
    apic_write(APIC_TIMER_INITIAL, 20 * APIC_TICKS_PER_MS);
    const bool came = spin_until(&fired, 1, ms(1000));
    check_value("one-shot (divide 1, 20 ms) raises its interrupt", "count", fired, came);
    if (!came) {
        timer_stop();
        return false;
    }
    check_duration("one-shot fires on time", stamps[0] - armed,
                   ticks_to_cycles(20 * APIC_TICKS_PER_MS), false);
    check_value("current count reads 0 after the one-shot fired", "current",
                apic_read(APIC_TIMER_CURRENT), apic_read(APIC_TIMER_CURRENT) == 0);
    spin_cycles(ms(60), true);
    check_value("one-shot fires only once", "count", fired, fired == 1);
    timer_stop();
    return true;
}

/* Three one-shots waited for in HLT; the strict timing check applies to the quickest. */
static void one_shot_halting(uint32_t divisor, uint32_t count, const char* what) {
    uint64_t best = ~0ull;
    bool once = true;
    for (int round = 0; round < 3; ++round) {
        new_test();
        apic_write(APIC_TIMER_DIVIDE, apic_divide_value(divisor));
        apic_write(APIC_LVT_TIMER, APIC_TIMER_ONE_SHOT | vector_now);
        const uint64_t armed = rdtsc();
        apic_write(APIC_TIMER_INITIAL, count);
        wait_fired(1);
        const uint64_t elapsed = stamps[0] - armed;
        best = elapsed < best ? elapsed : best;
        spin_cycles(ms(1), true);
        once &= fired == 1;
    }
    check_duration(what, best, ticks_to_cycles((uint64_t)count * divisor), true);
    check_ok(&checks, "each of them fired exactly once", once);
    timer_stop();
}

static void periodic(uint32_t period_ticks, uint32_t interrupts, const char* what) {
    new_test();
    apic_write(APIC_TIMER_DIVIDE, apic_divide_value(1));
    apic_write(APIC_LVT_TIMER, APIC_TIMER_PERIODIC | vector_now);
    const uint64_t armed = rdtsc();
    apic_write(APIC_TIMER_INITIAL, period_ticks);
    wait_fired(interrupts);
    const uint64_t period = ticks_to_cycles(period_ticks);
    check_duration(what, stamps[0] - armed, period, false);
    /* The median interval between interrupts: one delivered late makes one interval long and
     * the next short, and one the host merged into the next makes one interval double - the
     * median sees through both, a timer running at the wrong rate not. */
    uint64_t intervals[MAX_STAMPS];
    const uint32_t count = interrupts - 1;
    for (uint32_t i = 0; i < count; ++i) {
        intervals[i] = stamps[i + 1] - stamps[i];
        for (uint32_t j = i; j > 0 && intervals[j] < intervals[j - 1]; --j) {
            const uint64_t swap = intervals[j];
            intervals[j] = intervals[j - 1];
            intervals[j - 1] = swap;
        }
    }
    const uint64_t median = intervals[count / 2];
    check_begin(&checks, "periodic: median period (+-20%)");
    print_value("median_us", microseconds(median));
    print_value("expected_us", microseconds(period));
    check_end(&checks, within_percent(median, period, 20));

    /* Sample the current count over 3 periods: it must stay within the initial count and
     * reload (go up) when it expires. */
    bool wrapped = false, bounded = true;
    uint32_t previous = apic_read(APIC_TIMER_CURRENT), highest = previous;
    const uint64_t end = rdtsc() + 3 * period;
    while (rdtsc() < end) {
        const uint32_t now = apic_read(APIC_TIMER_CURRENT);
        wrapped |= now > previous;
        bounded &= now <= period_ticks;
        highest = now > highest ? now : highest;
        previous = now;
    }
    check_begin(&checks, "periodic: current count reloads and stays below the initial count");
    print_value("highest", highest);
    check_end(&checks, wrapped && bounded);

    /* After the stop, at most one interrupt raised just before it may still arrive late; a
     * timer still running would raise one per period. */
    apic_write(APIC_TIMER_INITIAL, 0);
    drain();
    const uint64_t stopped_at = fired;
    spin_cycles(period * 10, true);
    check_begin(&checks, "periodic: writing 0 to the initial count stops the timer");
    print_value("after_stop", fired - stopped_at);
    print_value("current", apic_read(APIC_TIMER_CURRENT));
    check_end(&checks, fired - stopped_at <= 1 && apic_read(APIC_TIMER_CURRENT) == 0);
    timer_stop();
}

static void masked(void) {
    new_test();
    apic_write(APIC_TIMER_DIVIDE, apic_divide_value(1));
    apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED | APIC_TIMER_ONE_SHOT | vector_now);
    apic_write(APIC_TIMER_INITIAL, 2 * APIC_TICKS_PER_MS);
    spin_cycles(ms(10), true);
    check_value("masked one-shot raises no interrupt", "count", fired, fired == 0);
    check_value("masked one-shot still counts down to 0", "current", apic_read(APIC_TIMER_CURRENT),
                apic_read(APIC_TIMER_CURRENT) == 0);
    timer_stop();
}

static bool x2apic(uint32_t xapic_version) {
    /* Returns whether the APIC is now in x2APIC mode. */
    if (!check_ok(&checks, "CPUID.1:ECX reports x2APIC", cpu_has_x2apic()))
        return false;
    expect_fault(2);
    (void)rdmsr(0x802);
    const struct fault_result fault = fault_taken();
    check_value("x2APIC MSR 0x802 raises #GP while in xAPIC mode", "vector",
                (uint64_t)(int64_t)fault.vector, fault.vector == 13);

    apic_enable_x2apic();
    const uint64_t base = rdmsr(MSR_APIC_BASE);
    check_value("IA32_APIC_BASE shows EN and EXTD", "apic_base", base,
                (base & (APIC_BASE_ENABLE | APIC_BASE_X2APIC)) ==
                    (APIC_BASE_ENABLE | APIC_BASE_X2APIC));
    check_value("x2APIC ID (MSR 0x802) is 0", "id", rdmsr(0x802), rdmsr(0x802) == 0);
    check_value("x2APIC LDR (MSR 0x80d) is cluster 0, bit 0", "ldr", rdmsr(0x80D),
                rdmsr(0x80D) == 1);
    check_value("x2APIC version matches the xAPIC one", "version", rdmsr(0x803),
                rdmsr(0x803) == xapic_version);
    check_value("SVR survives the switch to x2APIC", "svr", rdmsr(0x80F),
                (rdmsr(0x80F) & 0x1FF) == (APIC_SVR_ENABLE | APIC_SPURIOUS_VECTOR));

    const struct rate x2 = rate(1, ms(20));
    const uint64_t x2_cycles_per_kilotick = x2.ticks ? mul_div(x2.cycles, 1000, x2.ticks) : 0;
    check_begin(&checks, "x2APIC current count (MSR 0x839) runs at the xAPIC rate (+-10%)");
    print_value("cycles_per_kilotick", x2_cycles_per_kilotick);
    print_value("xapic", cycles_per_kilotick);
    check_end(&checks, within_percent(x2_cycles_per_kilotick, cycles_per_kilotick, 10));
    one_shot_halting(2, 10 * APIC_TICKS_PER_MS,
                     "x2APIC one-shot (divide 2, 20 ms) wakes HLT on time");
    periodic(4 * APIC_TICKS_PER_MS, 8, "x2APIC periodic (4 ms): first interrupt on time");
    return true;
}

/* new_test() in TSC-deadline mode. */
static void new_deadline_test(void) {
    new_test();
    apic_write(APIC_LVT_TIMER, APIC_TIMER_TSC_DEADLINE | vector_now);
}

static void tsc_deadline(void) {
    if (!check_ok(&checks, "CPUID.1:ECX reports TSC-deadline", cpu_has_tsc_deadline()))
        return;
    new_deadline_test();
    apic_write(APIC_TIMER_INITIAL, 1000);
    spin_cycles(ms(2), true);
    check_begin(&checks, "TSC-deadline mode ignores the initial count");
    print_value("count", fired);
    print_value("current", apic_read(APIC_TIMER_CURRENT));
    check_end(&checks, fired == 0 && apic_read(APIC_TIMER_CURRENT) == 0);

    /* Three deadlines 20 ms out, waited for in HLT: none may fire early; the quickest must be
     * close to its deadline (jitter only ever adds). */
    uint64_t best_late = ~0ull;
    bool early = false, reads_zero = true, armed_reads_back = true;
    for (int round = 0; round < 3; ++round) {
        new_deadline_test();
        const uint64_t deadline = rdtsc() + ms(20);
        wrmsr(MSR_TSC_DEADLINE, deadline);
        armed_reads_back &= rdmsr(MSR_TSC_DEADLINE) == deadline;
        wait_fired(1);
        early |= stamps[0] < deadline;
        const uint64_t late = stamps[0] >= deadline ? stamps[0] - deadline : 0;
        best_late = late < best_late ? late : best_late;
        reads_zero &= rdmsr(MSR_TSC_DEADLINE) == 0;
    }
    check_ok(&checks, "armed deadline reads back", armed_reads_back);
    check_begin(&checks, "TSC-deadline fires at the deadline, not before");
    print_value("best_late_us", microseconds(best_late));
    check_end(&checks, !early && best_late <= ms(5) + ms(3)); /* 25% + 3 ms, as above */
    check_ok(&checks, "deadline MSR reads 0 after firing", reads_zero);
    spin_cycles(ms(30), true);
    check_value("TSC-deadline fires once", "count", fired, fired == 1);

    new_deadline_test();
    wrmsr(MSR_TSC_DEADLINE, rdtsc() - ms(1));
    const bool came = spin_until(&fired, 1, ms(50));
    check_value("a deadline in the past fires at once", "count", fired, came);

    new_deadline_test();
    wrmsr(MSR_TSC_DEADLINE, rdtsc() + ms(10));
    wrmsr(MSR_TSC_DEADLINE, 0);
    spin_cycles(ms(30), true);
    check_value("writing 0 disarms the deadline", "count", fired, fired == 0);
    timer_stop();
}

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    install_idt();
    for (int vector = FIRST_VECTOR; vector <= LAST_VECTOR; ++vector)
        set_vector_handler((uint8_t)vector, timer_handler);
    uint32_t r[4];
    cpuid(1, 0, r);
    check_ok(&checks, "CPUID.1:EDX reports an APIC", (r[3] >> 9) & 1);
    const uint64_t base = rdmsr(MSR_APIC_BASE);
    check_value("IA32_APIC_BASE: 0xfee00000, enabled, BSP, xAPIC mode", "apic_base", base,
                (base & ~0xFFFull) == APIC_MMIO_BASE &&
                    (base & (APIC_BASE_ENABLE | APIC_BASE_BSP | APIC_BASE_X2APIC)) ==
                        (APIC_BASE_ENABLE | APIC_BASE_BSP));
    apic_enable();
    check_value("xAPIC ID register (bits 31:24) is 0", "id_register", apic_read(APIC_ID),
                apic_read(APIC_ID) == 0);
    const uint32_t version = apic_read(APIC_VERSION);
    check_value("version is an integrated APIC (0x10-0x15) with the timer LVT", "version", version,
                (version & 0xFF) >= 0x10 && (version & 0xFF) <= 0x15);
    check_value("SVR reads back enabled with vector 0xff", "svr", apic_read(APIC_SVR),
                (apic_read(APIC_SVR) & 0x1FF) == (APIC_SVR_ENABLE | APIC_SPURIOUS_VECTOR));

    calibrate();
    print("lapic_timer: TSC ");
    print_dec(tsc_hz);
    print(" Hz, ");
    print_dec(cycles_per_kilotick);
    println(" TSC cycles per 1000 timer ticks");
    if (one_shot_spinning()) {
        one_shot_halting(4, 5 * APIC_TICKS_PER_MS, "one-shot (divide 4, 20 ms) wakes HLT on time");
        periodic(5 * APIC_TICKS_PER_MS, 10, "periodic (5 ms): first interrupt on time");
        masked();
        (void)x2apic(version);
        tsc_deadline(); /* in x2APIC mode when it worked, else in xAPIC mode */
    } else {
        println("lapic_timer: the timer never fired: skipping the tests that wait in HLT");
    }
    print("lapic_timer: ");
    print_dec(stray);
    println(" interrupts of earlier tests arrived late (informational)");
    check_summary(&checks);
}
