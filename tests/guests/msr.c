/* msr: MSRs the partition allows round-trip their values; an MSR it does not know raises #GP
 * inside the guest (caught by the guest's IDT) instead of touching the host. */
#include "lib/guest.h"

static int failures;

static void report(const char* what, bool ok) {
    print("msr: ");
    print(what);
    println(ok ? ": ok" : ": FAIL");
    if (!ok)
        ++failures;
}

static void round_trip(const char* name, uint32_t msr, uint64_t value) {
    const uint64_t old = rdmsr(msr);
    wrmsr(msr, value);
    const uint64_t back = rdmsr(msr);
    wrmsr(msr, old);
    print("msr: ");
    print(name);
    print(" wrote ");
    print_hex(value);
    print(" read ");
    print_hex(back);
    println(back == value ? ": ok" : ": FAIL");
    if (back != value)
        ++failures;
}

/* RDMSR/WRMSR are 2 bytes long (0F 32 / 0F 30). */
static bool read_faults(uint32_t msr) {
    expect_fault(2);
    (void)rdmsr(msr);
    const struct fault_result fault = fault_taken();
    return fault.vector == 13 && fault.error_code == 0;
}

static bool write_faults(uint32_t msr, uint64_t value) {
    expect_fault(2);
    wrmsr(msr, value);
    const struct fault_result fault = fault_taken();
    return fault.vector == 13 && fault.error_code == 0;
}

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    install_idt();
    round_trip("LSTAR", 0xC0000082, 0xFFFFFFFF81234560ull);
    round_trip("STAR", 0xC0000081, 0x0023001000000000ull);
    round_trip("SFMASK", 0xC0000084, 0x47700);
    round_trip("KERNEL_GS_BASE", 0xC0000102, 0xFFFF888012345000ull);
    round_trip("SYSENTER_EIP", 0x176, 0xFFFFFFFF80001000ull);
    round_trip("PAT", 0x277, 0x0007040600070106ull);

    const uint64_t efer = rdmsr(0xC0000080);
    report("EFER shows long mode active", (efer & (1u << 10)) != 0);
    report("EFER hides SVME", (efer & (1u << 12)) == 0);
    round_trip("EFER without NXE", 0xC0000080, efer & ~(1ull << 11));
    report("EFER.SVME write raises #GP", write_faults(0xC0000080, efer | (1u << 12)));
    report("PAT reserved type raises #GP", write_faults(0x277, 0x0202020202020202ull));

    const uint64_t tsc1 = rdmsr(0x10);
    const uint64_t tsc2 = rdmsr(0x10);
    print("msr: TSC read ");
    print_hex(tsc1);
    print(" then ");
    print_hex(tsc2);
    put_char('\n');
    report("TSC advances", tsc2 > tsc1);

    report("unknown MSR 0x12345678 read raises #GP", read_faults(0x12345678));
    report("unknown MSR 0xc0011234 read raises #GP", read_faults(0xC0011234));
    report("unknown MSR 0xc0011234 write raises #GP", write_faults(0xC0011234, 1));
    report("VM_HSAVE_PA read raises #GP", read_faults(0xC0010117));
    println(failures == 0 ? "msr: PASS" : "msr: FAIL");
}
