/* memory-victim: the VM next to a misbehaving one. Fills its memory with a pattern, prints the
 * checksum, keeps running for a while (PAUSE gives the other VMs turns, so they act meanwhile)
 * and checks that its memory is still exactly what it wrote. */
#include "lib/guest.h"

#define MIB (1ull << 20)

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    memory_fill(2 * MIB, memory_size, 0x5EED);
    const uint64_t before = memory_checksum(2 * MIB, memory_size);
    print("victim: memory checksum ");
    print_hex(before);
    put_char('\n');
    for (int round = 1; round <= 3; ++round) {
        for (int i = 0; i < 1000; ++i)
            cpu_pause();
        print("victim: still running, round ");
        print_dec(round);
        put_char('\n');
    }
    const uint64_t after = memory_checksum(2 * MIB, memory_size);
    print("victim: memory checksum ");
    print_hex(after);
    println(after == before ? " unchanged: PASS" : " CHANGED: FAIL");
}
