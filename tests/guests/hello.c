/* hello: the smallest guest. Every vCPU prints a line and stops with HLT and interrupts off,
 * which the VM worker reports as "stopped (hlt with interrupts disabled)" once all have. */
#include "lib/guest.h"

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    console_lock();
    print("hello from a Halcyon test guest: vcpu ");
    print_dec(vcpu_index);
    print(" of ");
    print_dec(vcpu_count);
    print(", ");
    print_dec(memory_size >> 20);
    println(" MiB");
    console_unlock();
}
