/* triple-fault: loads an empty IDT and executes UD2. #UD cannot be delivered (#GP), neither can
 * #GP (#DF), nor #DF: the CPU shuts down. Halcyon must stop this VM only. */
#include "lib/guest.h"

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    println("triple-fault: loading an empty IDT and executing ud2");
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } empty = {0, 0};
    __asm__ volatile("lidt %0; ud2" : : "m"(empty));
    println("triple-fault: FAIL (still running)");
}
