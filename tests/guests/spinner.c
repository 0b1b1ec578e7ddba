/* spinner: spins without a single exit (interrupts off) for about a second, then prints one line
 * and spins forever. Only the host's preemption timer can take its CPU back: the VM next to it
 * finishes before that line only if the host preempted this vCPU (vm_preemption checks the
 * order; without preemption the spin would hold the CPU until the line is printed). */
#include "lib/guest.h"

/* TSC cycles of the first spin: about 1 s at 2-3 GHz, far longer than the other VM needs. */
#define FIRST_SPIN_CYCLES 2500000000ull

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    const uint64_t start = rdtsc();
    while (rdtsc() - start < FIRST_SPIN_CYCLES)
        __asm__ volatile("" ::: "memory");
    println("spinner: spinning forever without exits");
    for (;;)
        __asm__ volatile("" ::: "memory");
}
