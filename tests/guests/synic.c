/* synic: the Hyper-V synthetic interrupt controller, synthetic timers and the SynIC hypercalls
 * as a guest driver sees them (TLFS "Inter-Partition Communication", "Timers"):
 *   - CPUID advertises the SynIC, synthetic timers, direct mode, HvPostMessage/HvSignalEvent
 *     and recommends against AutoEOI; SVERSION, SINT reset values, the #GP cases;
 *   - the SIM page appears zeroed when enabled;
 *   - direct-mode STIMER (Linux's clockevent): one-shot on time and only once, periodic;
 *   - message-mode STIMER: HvMessageTimerExpired in the SINT's slot with the right timer
 *     index, expiration and delivery times; periodic messages on the period grid;
 *   - a second timer message for a busy slot waits, MessagePending set, and arrives on EOM;
 *   - an AutoEOI SINT needs no EOI (its vector never shows in the APIC's ISR);
 *   - HvPostMessage / HvSignalEvent to a connection nobody serves return
 *     HV_STATUS_INVALID_CONNECTION_ID, malformed inputs their TLFS status codes.
 * Times are checked in reference time, the partition reference counter the timers run on (never
 * early; late only within bounds that allow for QEMU TCG's scheduling), and loosely against the
 * TSC calibrated on the ACPI PM timer (reference time is real time). Waits are HLT with a
 * LAPIC-timer watchdog, so every timer test is also a test of waking a halted vCPU by a synthetic
 * timer. */
#include "lib/apic.h"
#include "lib/clock.h"

/* Guest-physical pages for the Hyper-V overlays (the image lives at 1 MiB). */
#define HYPERCALL_PAGE 0x800000ull
#define SIMP_PAGE 0x801000ull
#define SIEFP_PAGE 0x802000ull
#define INPUT_PAGE 0x804000ull /* 0x803000-0x805FFF: room to cross a page boundary */

#define MSR_GUEST_OS_ID 0x40000000
#define MSR_HYPERCALL 0x40000001
#define MSR_TIME_REF_COUNT 0x40000020
#define MSR_SCONTROL 0x40000080
#define MSR_SVERSION 0x40000081
#define MSR_SIEFP 0x40000082
#define MSR_SIMP 0x40000083
#define MSR_EOM 0x40000084
#define MSR_SINT0 0x40000090
#define MSR_STIMER_CONFIG(n) (0x400000B0 + 2 * (n))
#define MSR_STIMER_COUNT(n) (0x400000B1 + 2 * (n))

#define STIMER_ENABLE (1ull << 0)
#define STIMER_PERIODIC (1ull << 1)
#define STIMER_AUTO_ENABLE (1ull << 3)
#define STIMER_DIRECT (1ull << 12)
#define STIMER_VECTOR(v) ((uint64_t)(v) << 4)
#define STIMER_SINT(s) ((uint64_t)(s) << 16)
#define SINT_MASKED (1ull << 16)
#define SINT_AUTO_EOI (1ull << 17)

#define MESSAGE_TIMER_EXPIRED 0x80000010u
#define MESSAGE_SINT 2 /* timer messages, explicit EOI */
#define AUTO_EOI_SINT 3
#define VECTOR_MESSAGE 0x52
#define VECTOR_AUTO_EOI 0x93
#define VECTOR_DIRECT 0x60
#define VECTOR_LOW 0x41 /* a lower priority class than VECTOR_AUTO_EOI */
#define VECTOR_WATCHDOG 0x3F

#define HV_STATUS_SUCCESS 0x0
#define HV_STATUS_INVALID_HYPERCALL_CODE 0x2
#define HV_STATUS_INVALID_HYPERCALL_INPUT 0x3
#define HV_STATUS_INVALID_ALIGNMENT 0x4
#define HV_STATUS_INVALID_PARAMETER 0x5
#define HV_STATUS_INVALID_CONNECTION_ID 0x12
#define CALL_POST_MESSAGE 0x5Cull
#define CALL_SIGNAL_EVENT 0x5Dull
#define CALL_FAST (1ull << 16)

#define MAX_RECORDS 16

static struct checks checks = {"synic", 0, 0};
static uint64_t tsc_hz;

/* --- interrupts --- */

struct timer_message {
    uint32_t type, size, flags, index;
    uint64_t expiration, delivery, seen_reference;
};

static volatile uint64_t direct_count, low_count, watchdog_count;
static volatile uint64_t direct_tsc[MAX_RECORDS], direct_reference[MAX_RECORDS];
static volatile uint64_t message_count, auto_eoi_count;
static volatile struct timer_message messages[MAX_RECORDS];
static volatile struct timer_message auto_eoi_message;
static volatile uint64_t message_tsc[MAX_RECORDS];
static volatile bool keep_slot; /* the message handler leaves the slot full */

static volatile uint8_t* slot(unsigned sint) {
    return (volatile uint8_t*)(SIMP_PAGE + 256 * sint);
}

static struct timer_message read_slot(unsigned sint) {
    volatile uint8_t* s = slot(sint);
    struct timer_message m;
    m.type = *(volatile uint32_t*)s;
    m.size = s[4];
    m.flags = s[5];
    m.index = *(volatile uint32_t*)(s + 16);
    m.expiration = *(volatile uint64_t*)(s + 24);
    m.delivery = *(volatile uint64_t*)(s + 32);
    m.seen_reference = rdmsr(MSR_TIME_REF_COUNT);
    return m;
}

/* The TLFS's recommended handling: copy, empty the slot, EOM only if MessagePending. */
static void release_slot(unsigned sint) {
    volatile uint8_t* s = slot(sint);
    *(volatile uint32_t*)s = 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (s[5] & 1)
        wrmsr(MSR_EOM, 0);
}

static void direct_handler(struct trap_frame* frame) {
    (void)frame;
    const uint64_t n = direct_count;
    if (n < MAX_RECORDS) {
        direct_tsc[n] = rdtsc();
        direct_reference[n] = rdmsr(MSR_TIME_REF_COUNT);
    }
    direct_count = n + 1;
    apic_eoi();
}

static void message_handler(struct trap_frame* frame) {
    (void)frame;
    const uint64_t now = rdtsc();
    if (*(volatile uint32_t*)slot(MESSAGE_SINT) != 0) {
        const uint64_t n = message_count;
        if (n < MAX_RECORDS) {
            const struct timer_message m = read_slot(MESSAGE_SINT);
            messages[n].type = m.type;
            messages[n].size = m.size;
            messages[n].flags = m.flags;
            messages[n].index = m.index;
            messages[n].expiration = m.expiration;
            messages[n].delivery = m.delivery;
            messages[n].seen_reference = m.seen_reference;
            message_tsc[n] = now;
        }
        message_count = n + 1;
        if (!keep_slot)
            release_slot(MESSAGE_SINT);
    }
    apic_eoi();
}

/* AutoEOI SINT: the interrupt ended when it was delivered; this handler must not EOI. */
static void auto_eoi_handler(struct trap_frame* frame) {
    (void)frame;
    const struct timer_message m = read_slot(AUTO_EOI_SINT);
    auto_eoi_message.type = m.type;
    auto_eoi_message.index = m.index;
    release_slot(AUTO_EOI_SINT);
    ++auto_eoi_count;
}

static void low_handler(struct trap_frame* frame) {
    (void)frame;
    ++low_count;
    apic_eoi();
}

static void watchdog_handler(struct trap_frame* frame) {
    (void)frame;
    ++watchdog_count;
    apic_eoi();
}

/* Waits in HLT until *counter reaches target; a LAPIC one-shot timer ends a wait that would
 * otherwise never end. Returns whether the target was reached. */
static bool wait_for(volatile uint64_t* counter, uint64_t target, uint32_t milliseconds) {
    const uint64_t dog = watchdog_count;
    apic_write(APIC_TIMER_DIVIDE, apic_divide_value(1));
    apic_write(APIC_LVT_TIMER, APIC_TIMER_ONE_SHOT | VECTOR_WATCHDOG);
    apic_write(APIC_TIMER_INITIAL, milliseconds * APIC_TICKS_PER_MS);
    while (*counter < target && watchdog_count == dog)
        wait_for_interrupt();
    apic_write(APIC_TIMER_INITIAL, 0);
    return *counter >= target;
}

/* --- helpers --- */

static uint64_t ms(uint64_t milliseconds) {
    return mul_div(tsc_hz, milliseconds, 1000);
}

static uint64_t microseconds(uint64_t cycles) {
    return mul_div(cycles, 1000000, tsc_hz);
}

static uint64_t reference_now(void) {
    return rdmsr(MSR_TIME_REF_COUNT);
}

static uint64_t hypercall(uint64_t control, uint64_t input, uint64_t output) {
    uint64_t status;
    register uint64_t r8 __asm__("r8") = output;
    __asm__ volatile("call *%[page]"
                     : "=a"(status), "+c"(control), "+d"(input), "+r"(r8)
                     : [page] "r"(HYPERCALL_PAGE)
                     : "memory", "r9", "r10", "r11", "cc");
    return status & 0xFFFF;
}

static bool write_faults(uint32_t msr, uint64_t value) {
    expect_fault(2);
    wrmsr(msr, value);
    const struct fault_result fault = fault_taken();
    return fault.vector == 13;
}

static void stop_timer(unsigned n) {
    wrmsr(MSR_STIMER_CONFIG(n), 0);
    wrmsr(MSR_STIMER_COUNT(n), 0);
}

/* A delay in reference time (100 ns units, the clock the timers run on): never early, late by
 * at most 2x + 20 ms (one measurement on a loaded TCG host). The same interval on the TSC,
 * calibrated on the PM timer, must roughly agree (a factor of 2: calibration under host load
 * is coarse) - an independent check that reference time is real time. */
static bool check_delay(const char* what, uint64_t elapsed, uint64_t expected, uint64_t cycles) {
    check_begin(&checks, what);
    print_value("elapsed_us", elapsed / 10);
    print_value("expected_us", expected / 10);
    const uint64_t tsc_us = microseconds(cycles);
    print_value("tsc_us", tsc_us);
    return check_end(&checks, elapsed >= expected && elapsed <= 2 * expected + 200000 &&
                                  tsc_us * 2 >= elapsed / 10 && tsc_us <= elapsed / 5 + 5000);
}

static bool check_status(const char* what, uint64_t status, uint64_t expected) {
    check_begin(&checks, what);
    print_value_hex("status", status);
    return check_end(&checks, status == expected);
}

/* --- the tests --- */

static void test_cpuid(void) {
    uint32_t r[4];
    cpuid(0x40000003, 0, r);
    check_begin(&checks, "CPUID 0x40000003: SynIC, timers, post message, signal event, direct");
    print_value_hex("eax", r[0]);
    print_value_hex("ebx", r[1]);
    print_value_hex("edx", r[3]);
    check_end(&checks, (r[0] & 0xC) == 0xC && (r[1] & 0x30) == 0x30 && (r[3] & (1u << 19)));
    cpuid(0x40000004, 0, r);
    check_ok(&checks, "CPUID 0x40000004 recommends deprecating AutoEOI", (r[0] >> 9) & 1);
}

static void test_msr_rules(void) {
    check_ok(&checks, "SVERSION reads 1", rdmsr(MSR_SVERSION) == 1);
    check_ok(&checks, "SVERSION write is #GP", write_faults(MSR_SVERSION, 1));
    bool masked = true;
    for (unsigned i = 0; i < 16; ++i)
        masked &= rdmsr(MSR_SINT0 + i) == 0x10000;
    check_ok(&checks, "every SINT starts masked (0x10000)", masked);
    check_ok(&checks, "unmasked SINT vector 15 is #GP", write_faults(MSR_SINT0 + 5, 15));
    check_ok(&checks, "EOM reads 0", rdmsr(MSR_EOM) == 0);
    check_ok(&checks, "non-zero EOM write is #GP", write_faults(MSR_EOM, 1));
    check_ok(&checks, "STIMER config reserved bit is #GP",
             write_faults(MSR_STIMER_CONFIG(0), 1ull << 40));
    check_ok(&checks, "direct STIMER with vector 15 is #GP",
             write_faults(MSR_STIMER_CONFIG(0), STIMER_DIRECT | STIMER_VECTOR(15)));
}

static void enable_synic(void) {
    wrmsr(MSR_GUEST_OS_ID, 0x8100000000060100ull); /* open source, Linux-like */
    wrmsr(MSR_HYPERCALL, HYPERCALL_PAGE | 1);
    check_ok(&checks, "hypercall page enabled", rdmsr(MSR_HYPERCALL) & 1);
    for (unsigned i = 0; i < 4096; ++i)
        *(volatile uint8_t*)(SIMP_PAGE + i) = 0xAA;
    wrmsr(MSR_SIMP, SIMP_PAGE | 1);
    bool zero = true;
    for (unsigned i = 0; i < 4096; ++i)
        zero &= *(volatile uint8_t*)(SIMP_PAGE + i) == 0;
    check_ok(&checks, "SIM page appears zeroed when enabled", zero);
    wrmsr(MSR_SIEFP, SIEFP_PAGE | 1);
    wrmsr(MSR_SINT0 + MESSAGE_SINT, VECTOR_MESSAGE);
    wrmsr(MSR_SINT0 + AUTO_EOI_SINT, VECTOR_AUTO_EOI | SINT_AUTO_EOI);
    wrmsr(MSR_SCONTROL, 1);
    check_ok(&checks, "SINT2 reads back as written",
             rdmsr(MSR_SINT0 + MESSAGE_SINT) == VECTOR_MESSAGE);
}

static void test_direct_one_shot(void) {
    /* As Linux's clockevent does it: enable + auto-enable + direct, then COUNT = now + delta. */
    direct_count = 0;
    wrmsr(MSR_STIMER_CONFIG(0),
          STIMER_ENABLE | STIMER_AUTO_ENABLE | STIMER_DIRECT | STIMER_VECTOR(VECTOR_DIRECT));
    const uint64_t start = rdtsc();
    const uint64_t start_reference = reference_now();
    const uint64_t expiry = start_reference + 50000; /* 5 ms */
    wrmsr(MSR_STIMER_COUNT(0), expiry);
    const bool fired = wait_for(&direct_count, 1, 500);
    check_ok(&checks, "direct one-shot interrupt arrives (HLT wakes)", fired);
    if (!fired)
        return;
    check_delay("direct one-shot fires on time", direct_reference[0] - start_reference, 50000,
                direct_tsc[0] - start);
    check_begin(&checks, "direct one-shot: reference time at the interrupt >= count");
    print_value("late_100ns", direct_reference[0] - expiry);
    check_end(&checks, direct_reference[0] >= expiry);
    spin_cycles(ms(20), true);
    check_ok(&checks, "direct one-shot fires only once", direct_count == 1);
    check_ok(&checks, "expired one-shot timer reads disabled",
             (rdmsr(MSR_STIMER_CONFIG(0)) & STIMER_ENABLE) == 0);
    stop_timer(0);
}

static void test_direct_past_count(void) {
    direct_count = 0;
    wrmsr(MSR_STIMER_CONFIG(0), STIMER_AUTO_ENABLE | STIMER_DIRECT | STIMER_VECTOR(VECTOR_DIRECT));
    wrmsr(MSR_STIMER_COUNT(0), 1); /* long past */
    check_ok(&checks, "one-shot in the past expires at once", wait_for(&direct_count, 1, 100));
    stop_timer(0);
}

static void test_direct_periodic(void) {
    direct_count = 0;
    const unsigned n = 12;
    wrmsr(MSR_STIMER_COUNT(0), 20000); /* 2 ms */
    const uint64_t start = reference_now();
    wrmsr(MSR_STIMER_CONFIG(0),
          STIMER_ENABLE | STIMER_PERIODIC | STIMER_DIRECT | STIMER_VECTOR(VECTOR_DIRECT));
    const bool all = wait_for(&direct_count, n, 2000);
    stop_timer(0);
    check_ok(&checks, "direct periodic: 12 interrupts", all);
    if (!all)
        return;
    /* Reference time. The i-th interrupt stands for a point on the period grid at or after
     * enable + (i+1) periods (late ones are caught up back to back, hopelessly late ones
     * skipped): never before it, and the timer keeps up - the last one comes no later than
     * 100 ms after its grid point (a skip after the host descheduled QEMU for long adds to
     * that; the exact catch-up and skip rules are unit-tested). */
    bool never_early = true;
    for (unsigned i = 0; i < n; ++i)
        never_early &= direct_reference[i] >= start + (i + 1) * 20000ull;
    check_ok(&checks, "direct periodic: no interrupt before its period", never_early);
    check_begin(&checks, "direct periodic: the 12th interrupt within 100 ms of its period");
    const uint64_t last_late = direct_reference[n - 1] - (start + n * 20000ull);
    print_value("mean_period_us", (direct_reference[n - 1] - direct_reference[0]) / (n - 1) / 10);
    print_value("last_late_us", last_late / 10);
    check_end(&checks, never_early && last_late <= 1000000);
    spin_cycles(ms(10), true);
    const uint64_t after = direct_count;
    spin_cycles(ms(10), true);
    check_ok(&checks, "direct periodic stops when disabled", direct_count == after);
}

static void test_message_one_shot(void) {
    message_count = 0;
    const uint64_t start = rdtsc();
    const uint64_t start_reference = reference_now();
    const uint64_t expiry = start_reference + 40000; /* 4 ms */
    wrmsr(MSR_STIMER_COUNT(1), expiry);
    wrmsr(MSR_STIMER_CONFIG(1), STIMER_ENABLE | STIMER_SINT(MESSAGE_SINT));
    const bool fired = wait_for(&message_count, 1, 500);
    check_ok(&checks, "message one-shot: SINT2 interrupt arrives", fired);
    if (!fired)
        return;
    const struct timer_message m = {
        messages[0].type,       messages[0].size,     messages[0].flags,         messages[0].index,
        messages[0].expiration, messages[0].delivery, messages[0].seen_reference};
    check_begin(&checks, "message one-shot: HvMessageTimerExpired for timer 1");
    print_value_hex("type", m.type);
    print_value("size", m.size);
    print_value("index", m.index);
    check_end(&checks, m.type == MESSAGE_TIMER_EXPIRED && m.size == 24 && m.index == 1);
    check_begin(&checks, "message one-shot: expiration = count, count <= delivery <= now");
    print_value("expiration", m.expiration);
    print_value("count", expiry);
    print_value("delivery_late_100ns", m.delivery - m.expiration);
    check_end(&checks, m.expiration == expiry && m.delivery >= m.expiration &&
                           m.delivery <= m.seen_reference);
    check_delay("message one-shot arrives on time", m.seen_reference - start_reference, 40000,
                message_tsc[0] - start);
    check_ok(&checks, "slot emptied by the guest stays empty", *(volatile uint32_t*)slot(2) == 0);
    stop_timer(1);
}

static void test_message_periodic(void) {
    message_count = 0;
    const unsigned n = 8;
    const uint64_t period = 30000; /* 3 ms */
    wrmsr(MSR_STIMER_COUNT(1), period);
    wrmsr(MSR_STIMER_CONFIG(1), STIMER_ENABLE | STIMER_PERIODIC | STIMER_SINT(MESSAGE_SINT));
    const bool all = wait_for(&message_count, n, 2000);
    stop_timer(1);
    check_ok(&checks, "message periodic: 8 messages", all);
    if (!all)
        return;
    bool grid = true;
    for (unsigned i = 1; i < n; ++i) {
        const uint64_t step = messages[i].expiration - messages[i - 1].expiration;
        grid &= messages[i].expiration > messages[i - 1].expiration && step % period == 0;
        grid &= messages[i].delivery >= messages[i].expiration;
    }
    check_begin(&checks, "message periodic: expirations on the period grid, never early");
    print_value("first_to_last_100ns", messages[n - 1].expiration - messages[0].expiration);
    check_end(&checks, grid);
    spin_cycles(ms(10), true);
    const uint64_t after = message_count;
    spin_cycles(ms(10), true);
    check_ok(&checks, "message periodic stops when disabled", message_count == after);
}

static void test_busy_slot(void) {
    /* Timer 1's message stays in the slot (the handler keeps it); timer 3's, for the same
     * SINT, must wait, with MessagePending set, until the guest empties the slot and EOMs. */
    message_count = 0;
    keep_slot = true;
    wrmsr(MSR_STIMER_COUNT(1), reference_now() + 10000);
    wrmsr(MSR_STIMER_CONFIG(1), STIMER_ENABLE | STIMER_SINT(MESSAGE_SINT));
    const bool first = wait_for(&message_count, 1, 500);
    wrmsr(MSR_STIMER_COUNT(3), reference_now() + 10000);
    wrmsr(MSR_STIMER_CONFIG(3), STIMER_ENABLE | STIMER_SINT(MESSAGE_SINT));
    spin_cycles(ms(20), true);
    keep_slot = false;
    check_ok(&checks, "busy slot: the first timer message arrives",
             first && messages[0].index == 1);
    check_begin(&checks, "busy slot: the second waits, MessagePending set");
    print_value("messages", message_count);
    print_value_hex("flags", slot(MESSAGE_SINT)[5]);
    check_end(&checks, message_count == 1 && (slot(MESSAGE_SINT)[5] & 1) &&
                           *(volatile uint32_t*)slot(MESSAGE_SINT) == MESSAGE_TIMER_EXPIRED);
    release_slot(MESSAGE_SINT); /* empties the slot and writes EOM */
    const bool second = wait_for(&message_count, 2, 500);
    check_begin(&checks, "busy slot: EOM delivers the waiting message of timer 3");
    print_value("messages", message_count);
    print_value("index", messages[1].index);
    check_end(&checks,
              second && messages[1].index == 3 && messages[1].type == MESSAGE_TIMER_EXPIRED);
    stop_timer(1);
    stop_timer(3);
}

static bool in_service(uint8_t vector) {
    return (apic_read(APIC_ISR + 0x10 * (vector / 32)) >> (vector % 32)) & 1;
}

static void test_auto_eoi(void) {
    auto_eoi_count = 0;
    wrmsr(MSR_STIMER_COUNT(2), reference_now() + 10000);
    wrmsr(MSR_STIMER_CONFIG(2), STIMER_ENABLE | STIMER_SINT(AUTO_EOI_SINT));
    const bool fired = wait_for(&auto_eoi_count, 1, 500);
    check_ok(&checks, "AutoEOI SINT: timer message arrives",
             fired && auto_eoi_message.type == MESSAGE_TIMER_EXPIRED &&
                 auto_eoi_message.index == 2);
    check_ok(&checks, "AutoEOI SINT: vector not in service without an EOI",
             !in_service(VECTOR_AUTO_EOI));
    /* A lower-priority interrupt is not held back by it. */
    low_count = 0;
    wrmsr(MSR_STIMER_CONFIG(0), STIMER_AUTO_ENABLE | STIMER_DIRECT | STIMER_VECTOR(VECTOR_LOW));
    wrmsr(MSR_STIMER_COUNT(0), reference_now() + 10000);
    check_ok(&checks, "AutoEOI SINT: a lower vector is delivered after it",
             wait_for(&low_count, 1, 500));
    stop_timer(0);
    stop_timer(2);
}

#include "synic_hypercalls.h"

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    (void)memory_size;
    (void)vcpu_count;
    if (vcpu_index != 0)
        return;
    install_idt();
    set_vector_handler(VECTOR_DIRECT, direct_handler);
    set_vector_handler(VECTOR_MESSAGE, message_handler);
    set_vector_handler(VECTOR_AUTO_EOI, auto_eoi_handler);
    set_vector_handler(VECTOR_LOW, low_handler);
    set_vector_handler(VECTOR_WATCHDOG, watchdog_handler);
    apic_enable();

    tsc_hz = tsc_hz_from_pm_timer(30);
    check_begin(&checks, "TSC calibrated on the ACPI PM timer");
    print_value("tsc_hz", tsc_hz);
    if (!check_end(&checks, tsc_hz != 0)) {
        check_summary(&checks);
        return;
    }

    test_cpuid();
    test_msr_rules();
    enable_synic();
    test_direct_one_shot();
    test_direct_past_count();
    test_direct_periodic();
    test_message_one_shot();
    test_message_periodic();
    test_busy_slot();
    test_auto_eoi();
    test_hypercalls();
    check_ok(&checks, "the watchdog never had to end a wait", watchdog_count == 0);
    check_summary(&checks);
}
