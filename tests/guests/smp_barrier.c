/* smp-barrier: every vCPU does some work on its own slice of memory, then all meet at a barrier
 * (PAUSE while waiting, so a vCPU sharing a physical CPU yields); vCPU 0 then checks every
 * vCPU's result. Proves that all vCPUs of the VM run and make progress. */
#include "lib/guest.h"

#define MIB (1ull << 20)
#define MAX_VCPUS 8

static volatile uint32_t arrived;
static volatile uint64_t results[MAX_VCPUS];

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    /* Each vCPU owns 1 MiB starting at 4 MiB. */
    const uint64_t start = 4 * MIB + vcpu_index * MIB;
    memory_fill(start, start + MIB, 0xC0FFEE + vcpu_index);
    results[vcpu_index] = memory_checksum(start, start + MIB);

    console_lock();
    print("smp: vcpu ");
    print_dec(vcpu_index);
    print(" of ");
    print_dec(vcpu_count);
    print(" computed ");
    print_hex(results[vcpu_index]);
    put_char('\n');
    console_unlock();

    __atomic_add_fetch(&arrived, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&arrived, __ATOMIC_ACQUIRE) < vcpu_count)
        cpu_pause();

    if (vcpu_index != 0)
        return;
    bool ok = true;
    for (uint64_t i = 0; i < vcpu_count; ++i) {
        const uint64_t slice = 4 * MIB + i * MIB;
        ok &= results[i] == memory_checksum(slice, slice + MIB) && results[i] != 0;
    }
    console_lock();
    print("smp: all ");
    print_dec(vcpu_count);
    println(ok ? " vcpus met at the barrier: PASS" : " vcpus met at the barrier: FAIL");
    console_unlock();
}
