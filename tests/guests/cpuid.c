/* cpuid: checks Halcyon's CPUID policy from inside a guest (vmm/partition/cpuid_policy.hpp):
 * the hypervisor-present bit, the Hyper-V leaves at 0x40000000, and that SVM, VMX, MONITOR
 * and the SVM feature leaf are hidden. Each check prints "ok" or "FAIL"; the last line says
 * "cpuid: PASS" only when every check passed. */
#include "lib/guest.h"

static int failures;

static void check(const char* what, bool ok) {
    print("cpuid: ");
    print(what);
    println(ok ? ": ok" : ": FAIL");
    if (!ok)
        ++failures;
}

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    uint32_t r[4];
    cpuid(1, 0, r);
    check("hypervisor bit set", (r[2] >> 31) & 1);
    check("vmx hidden", ((r[2] >> 5) & 1) == 0);
    check("x2apic offered (virtual local APIC)", ((r[2] >> 21) & 1) == 1);
    check("monitor hidden", ((r[2] >> 3) & 1) == 0);
    check("apic id is the vcpu index", (r[1] >> 24) == vcpu_index);

    cpuid(0x40000000, 0, r);
    char vendor[13];
    for (int i = 0; i < 4; ++i) {
        vendor[i] = (char)(r[1] >> (8 * i));
        vendor[4 + i] = (char)(r[2] >> (8 * i));
        vendor[8 + i] = (char)(r[3] >> (8 * i));
    }
    vendor[12] = '\0';
    print("cpuid: hypervisor vendor \"");
    print(vendor);
    print("\", max leaf ");
    print_hex(r[0]);
    put_char('\n');
    const char expected[] = "Microsoft Hv";
    bool vendor_ok = true;
    for (int i = 0; i < 12; ++i)
        vendor_ok &= vendor[i] == expected[i];
    check("vendor is Microsoft Hv (Hyper-V interface)", vendor_ok);
    check("max hypervisor leaf >= 0x40000005", r[0] >= 0x40000005);
    cpuid(0x40000001, 0, r);
    check("interface signature Hv#1", r[0] == 0x31237648);

    cpuid(0x80000001, 0, r);
    check("svm hidden", ((r[2] >> 2) & 1) == 0);
    cpuid(0x80000000, 0, r);
    if (r[0] >= 0x8000000A) {
        cpuid(0x8000000A, 0, r);
        check("svm leaf empty", (r[0] | r[1] | r[2] | r[3]) == 0);
    }
    /* The cost of a CPUID exit round trip as the guest sees it (TSC cycles; RDTSC itself is
     * not intercepted). Informational: emulators and hardware differ by orders of magnitude. */
    const int rounds = 1000;
    uint32_t low, high;
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    const uint64_t begin = ((uint64_t)high << 32) | low;
    for (int i = 0; i < rounds; ++i)
        cpuid(0, 0, r);
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    const uint64_t end = ((uint64_t)high << 32) | low;
    print("cpuid: exit round trip ");
    print_dec((end - begin) / rounds);
    println(" TSC cycles (average of 1000)");

    println(failures == 0 ? "cpuid: PASS" : "cpuid: FAIL");
}
