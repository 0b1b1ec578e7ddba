/* vmx-insn: the guest sees no VMX, so every VMX instruction must raise #UD in the guest (on
 * VT-x the backend injects it after the exit; on AMD they do not exist). */
#include "lib/guest.h"

static int failures;

#define TRY_UD(name, length, bytes)                                                                \
    do {                                                                                           \
        expect_fault(length);                                                                      \
        __asm__ volatile(".byte " bytes : : "a"(0), "c"(0) : "memory");                            \
        const struct fault_result fault = fault_taken();                                           \
        print("vmx-insn: " name " -> ");                                                           \
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
    TRY_UD("vmxon", 4, "0xf3, 0x0f, 0xc7, 0x30");   /* vmxon [rax] */
    TRY_UD("vmclear", 4, "0x66, 0x0f, 0xc7, 0x30"); /* vmclear [rax] */
    TRY_UD("vmptrld", 3, "0x0f, 0xc7, 0x30");       /* vmptrld [rax] */
    TRY_UD("vmptrst", 3, "0x0f, 0xc7, 0x38");       /* vmptrst [rax] */
    TRY_UD("vmread", 3, "0x0f, 0x78, 0xc1");        /* vmread rcx, rax */
    TRY_UD("vmwrite", 3, "0x0f, 0x79, 0xc1");       /* vmwrite rax, rcx */
    TRY_UD("vmlaunch", 3, "0x0f, 0x01, 0xc2");
    TRY_UD("vmresume", 3, "0x0f, 0x01, 0xc3");
    TRY_UD("vmxoff", 3, "0x0f, 0x01, 0xc4");
    TRY_UD("invept", 5, "0x66, 0x0f, 0x38, 0x80, 0x08");  /* invept rcx, [rax] */
    TRY_UD("invvpid", 5, "0x66, 0x0f, 0x38, 0x81, 0x08"); /* invvpid rcx, [rax] */
    TRY_UD("vmfunc", 3, "0x0f, 0x01, 0xd4");
    println(failures == 0 ? "vmx-insn: PASS" : "vmx-insn: FAIL");
}
