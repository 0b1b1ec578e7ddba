/* spinner: prints one line, then spins forever with interrupts off and without a single exit.
 * Only the host's preemption timer can take its CPU back; the VM next to it must still finish. */
#include "lib/guest.h"

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    println("spinner: spinning forever without exits");
    for (;;)
        __asm__ volatile("" ::: "memory");
}
