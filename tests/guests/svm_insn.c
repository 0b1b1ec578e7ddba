/* svm-insn: the guest sees no SVM, so every SVM instruction must raise #UD in the guest. */
#include "lib/guest.h"

static int failures;

#define TRY_UD(name, bytes)                                                                        \
    do {                                                                                           \
        expect_fault(3);                                                                           \
        __asm__ volatile(".byte " bytes : : "a"(0), "c"(0) : "memory");                            \
        const struct fault_result fault = fault_taken();                                           \
        print("svm-insn: " name " -> ");                                                           \
        if (fault.vector == 6) {                                                                   \
            println("#UD: ok");                                                                    \
        } else {                                                                                   \
            print("vector ");                                                                      \
            print_dec((uint64_t)(int64_t)fault.vector);                                            \
            println(": FAIL");                                                                     \
            ++failures;                                                                            \
        }                                                                                          \
    } while (0)

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    install_idt();
    TRY_UD("vmrun", "0x0f, 0x01, 0xd8");
    TRY_UD("vmload", "0x0f, 0x01, 0xda");
    TRY_UD("vmsave", "0x0f, 0x01, 0xdb");
    TRY_UD("stgi", "0x0f, 0x01, 0xdc");
    TRY_UD("clgi", "0x0f, 0x01, 0xdd");
    TRY_UD("skinit", "0x0f, 0x01, 0xde");
    TRY_UD("invlpga", "0x0f, 0x01, 0xdf");
    println(failures == 0 ? "svm-insn: PASS" : "svm-insn: FAIL");
}
