/* outside-memory: touches guest-physical addresses beyond its RAM. Halcyon makes them behave
 * like unbacked memory (reads all ones, writes dropped); the guest's own memory must not change
 * either (checksum before and after), and the VM next to it checks its own (memory_victim). */
#include "lib/guest.h"

#define MIB (1ull << 20)

static int failures;

static void report(const char* what, bool ok) {
    print("outside-memory: ");
    print(what);
    println(ok ? ": ok" : ": FAIL");
    if (!ok)
        ++failures;
}

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    memory_fill(2 * MIB, memory_size, 0xA77AC4E5);
    const uint64_t before = memory_checksum(2 * MIB, memory_size);
    print("outside-memory: own memory checksum ");
    print_hex(before);
    put_char('\n');

    volatile uint64_t* beyond = (volatile uint64_t*)(memory_size + MIB);
    report("read beyond memory is all ones", *beyond == ~0ull);
    *beyond = 0x1122334455667788ull;
    report("write beyond memory is dropped", *beyond == ~0ull);
    volatile uint32_t* high = (volatile uint32_t*)0xC0000000ull; /* 3 GiB */
    report("read at 3 GiB is all ones", *high == 0xFFFFFFFFu);

    /* Spray writes over the next 48 MiB of guest-physical space (where another VM's memory
     * would be if partitions were not isolated). */
    for (uint64_t address = memory_size; address < memory_size + 48 * MIB; address += MIB)
        *(volatile uint64_t*)address = 0xDEADBEEFDEADBEEFull;
    bool all_ones = true;
    for (uint64_t address = memory_size; address < memory_size + 48 * MIB; address += MIB)
        all_ones &= *(volatile uint64_t*)address == ~0ull;
    report("48 MiB of sprayed writes all read back as all ones", all_ones);

    const uint64_t after = memory_checksum(2 * MIB, memory_size);
    print("outside-memory: own memory checksum ");
    print_hex(after);
    put_char('\n');
    report("own memory unchanged", before == after);
    println(failures == 0 ? "outside-memory: PASS" : "outside-memory: FAIL");
}
