/* ipi: inter-processor interrupts between the two vCPUs of one VM, first through the xAPIC
 * (ICR in the MMIO page), then through the x2APIC (ICR MSR 0x830, SELF IPI MSR 0x83F).
 * vCPU 0 sends; vCPU 1 waits in HLT with interrupts enabled and its handler counts every vector
 * it receives in shared memory, which vCPU 0 reads back. Each check sends one IPI and expects
 * exactly the right vCPUs to receive it exactly once:
 *   fixed IPI, physical destination (APIC ID 1)                 -> vCPU 1
 *   fixed IPI, logical destination (xAPIC flat, x2APIC cluster) -> vCPU 1, then both
 *   shorthand all-excluding-self                                -> vCPU 1
 *   shorthand all-including-self, broadcast destination         -> both
 *   shorthand self (and x2APIC SELF IPI)                        -> vCPU 0
 *   NMI to APIC ID 1                                            -> vCPU 1's NMI handler
 * and every delivery to vCPU 1 must have woken it from HLT. */
#include "lib/apic.h"
#include "lib/clock.h"

enum {
    V_PHYSICAL = 0x50,
    V_LOGICAL_ONE,
    V_LOGICAL_BOTH,
    V_OTHERS,
    V_ALL,
    V_BROADCAST,
    V_SELF,
    V_SELF_MSR,
    V_WAKE = 0x5F, /* wakes vCPU 1 to look at a new command */
};

enum { CMD_NONE, CMD_READY, CMD_X2APIC, CMD_DONE };

/* The waits below are bounded in TSC cycles: generous (seconds on any machine) because a vCPU
 * may wait for its turn on a shared physical CPU; SETTLE is how long to watch for deliveries
 * that must not happen. */
#define TIMEOUT 6000000000ull
#define SETTLE 30000000ull

static struct checks checks = {"ipi", 0, 0};
static volatile uint64_t received[2][16];
static volatile uint64_t nmis[2];
static volatile uint64_t wakeups;
static volatile uint32_t command, acknowledged, idt_ready;
static volatile uint32_t ids[2], ldrs[2];

static void ipi_handler(struct trap_frame* frame) {
    const uint32_t vcpu = current_vcpu();
    if (vcpu < 2)
        __atomic_add_fetch(&received[vcpu][frame->vector - V_PHYSICAL], 1, __ATOMIC_RELAXED);
    apic_eoi();
}

static void nmi_handler(struct trap_frame* frame) {
    const uint32_t vcpu = current_vcpu();
    if (vcpu < 2)
        __atomic_add_fetch(&nmis[vcpu], 1, __ATOMIC_RELAXED);
}

/* xAPIC: flat logical model, logical ID bit = vCPU index. (In x2APIC mode the LDR is read-only,
 * derived from the APIC ID.) */
static void record_apic(uint32_t vcpu) {
    if (!apic_is_x2apic()) {
        apic_write(APIC_DFR, 0xFFFFFFFFu);
        apic_write(APIC_LDR, (1u << vcpu) << 24);
    }
    ids[vcpu] = apic_id();
    ldrs[vcpu] = apic_read(APIC_LDR);
}

static void receiver(void) {
    while (!idt_ready)
        cpu_pause();
    load_idt();
    apic_enable();
    record_apic(1);
    uint32_t handled = CMD_READY;
    __atomic_store_n(&acknowledged, CMD_READY, __ATOMIC_RELEASE);
    for (;;) {
        const uint32_t now = __atomic_load_n(&command, __ATOMIC_ACQUIRE);
        if (now != handled && now != CMD_NONE) {
            if (now == CMD_X2APIC) {
                apic_enable_x2apic();
                record_apic(1);
            }
            handled = now;
            __atomic_store_n(&acknowledged, now, __ATOMIC_RELEASE);
            if (now == CMD_DONE)
                return;
        }
        wait_for_interrupt();
        __atomic_add_fetch(&wakeups, 1, __ATOMIC_RELAXED);
    }
}

static bool wait_acknowledged(uint32_t value) {
    const uint64_t end = rdtsc() + TIMEOUT;
    while (__atomic_load_n(&acknowledged, __ATOMIC_ACQUIRE) != value) {
        if (rdtsc() > end)
            return false;
        cpu_pause();
    }
    return true;
}

static bool order(uint32_t value) {
    __atomic_store_n(&command, value, __ATOMIC_RELEASE);
    (void)apic_send_ipi(1, ICR_FIXED | V_WAKE);
    return wait_acknowledged(value);
}

/* Sends one IPI and checks who got it. `vector` V_* (fixed) or 2 for an NMI. */
static void deliver(const char* what, uint32_t destination, uint32_t icr, uint8_t vector,
                    uint64_t expect0, uint64_t expect1) {
    volatile uint64_t* counts[2];
    if (vector == 2) {
        counts[0] = &nmis[0];
        counts[1] = &nmis[1];
    } else {
        counts[0] = &received[0][vector - V_PHYSICAL];
        counts[1] = &received[1][vector - V_PHYSICAL];
    }
    *counts[0] = 0;
    *counts[1] = 0;
    const uint64_t wakeups_before = wakeups;
    const bool sent = vector == V_SELF_MSR ? (wrmsr(0x83F, vector), true)
                                           : apic_send_ipi(destination, icr | vector);
    /* Wait for the expected deliveries, then watch a while for ones that must not happen. */
    const uint64_t end = rdtsc() + TIMEOUT;
    while ((*counts[0] < expect0 || *counts[1] < expect1 ||
            (expect1 != 0 && wakeups == wakeups_before)) &&
           rdtsc() < end)
        accept_interrupts();
    spin_cycles(SETTLE, true);
    const bool woke = expect1 == 0 || wakeups != wakeups_before;
    check_begin(&checks, what);
    print_value("vcpu0", *counts[0]);
    print_value("vcpu1", *counts[1]);
    if (!sent)
        print(" (delivery status stuck at pending)");
    if (!woke)
        print(" (vcpu 1 never left HLT)");
    check_end(&checks, sent && woke && *counts[0] == expect0 && *counts[1] == expect1);
}

static void round(bool x2) {
    const char* mode = x2 ? "x2APIC" : "xAPIC";
    print("ipi: ");
    print(mode);
    println(" round");
    check_begin(&checks, "APIC IDs are the vCPU indexes");
    print_value("vcpu0", ids[0]);
    print_value("vcpu1", ids[1]);
    check_end(&checks, ids[0] == 0 && ids[1] == 1);
    check_begin(&checks, "logical destination registers");
    print_value_hex("vcpu0", ldrs[0]);
    print_value_hex("vcpu1", ldrs[1]);
    check_end(&checks,
              x2 ? ldrs[0] == 1 && ldrs[1] == 2 : ldrs[0] == 0x01000000u && ldrs[1] == 0x02000000u);

    deliver("fixed, physical destination 1 -> vcpu 1", 1, ICR_FIXED, V_PHYSICAL, 0, 1);
    deliver("fixed, logical destination 0x2 -> vcpu 1", 2, ICR_FIXED | ICR_LOGICAL, V_LOGICAL_ONE,
            0, 1);
    deliver("fixed, logical destination 0x3 -> both", 3, ICR_FIXED | ICR_LOGICAL, V_LOGICAL_BOTH, 1,
            1);
    deliver("fixed, all excluding self -> vcpu 1", 0, ICR_FIXED | ICR_SHORTHAND_OTHERS, V_OTHERS, 0,
            1);
    deliver("fixed, all including self -> both", 0, ICR_FIXED | ICR_SHORTHAND_ALL, V_ALL, 1, 1);
    deliver("fixed, physical broadcast -> both", x2 ? 0xFFFFFFFFu : 0xFF, ICR_FIXED, V_BROADCAST, 1,
            1);
    deliver("fixed, self -> vcpu 0", 0, ICR_FIXED | ICR_SHORTHAND_SELF, V_SELF, 1, 0);
    if (x2)
        deliver("SELF IPI MSR 0x83f -> vcpu 0", 0, 0, V_SELF_MSR, 1, 0);
    deliver("NMI, physical destination 1 -> vcpu 1", 1, ICR_NMI | ICR_ASSERT, 2, 0, 1);
}

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    if (vcpu_index == 1) {
        receiver();
        return;
    }
    if (vcpu_index != 0)
        return;
    install_idt();
    for (int vector = V_PHYSICAL; vector <= V_WAKE; ++vector)
        set_vector_handler((uint8_t)vector, ipi_handler);
    set_vector_handler(2, nmi_handler);
    __atomic_store_n(&idt_ready, 1, __ATOMIC_RELEASE);
    apic_enable();
    record_apic(0);
    if (!check_ok(&checks, "the VM has 2 vCPUs", vcpu_count == 2) ||
        !check_ok(&checks, "vcpu 1 is up", wait_acknowledged(CMD_READY))) {
        check_summary(&checks);
        return;
    }
    round(false);
    if (check_ok(&checks, "CPUID.1:ECX reports x2APIC", cpu_has_x2apic()) &&
        check_ok(&checks, "vcpu 1 switched to x2APIC", order(CMD_X2APIC))) {
        apic_enable_x2apic();
        record_apic(0);
        round(true);
    }
    check_ok(&checks, "vcpu 1 finished", order(CMD_DONE));
    check_summary(&checks);
}
