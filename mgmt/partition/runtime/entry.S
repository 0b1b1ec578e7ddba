/* The management partition's entry and exception stubs.
 *
 * mgmt_entry: the core enters in long mode with RDI = physical address of MgmtBootInfo and RSP
 * at the top of its page-table area (not ours to keep): switch to the stack in .bss first, then
 * call the C++ side, which never returns.
 *
 * Exception stubs: one per vector 0-31. Vectors without a CPU error code push a zero so every
 * frame looks the same, then the vector number; the common path saves the general registers and
 * calls mgmt_exception(frame) (runtime/crash.cpp), which prints the report and triple-faults. */
    .section .text.entry, "ax"
    .globl mgmt_entry
    .type mgmt_entry, @function
mgmt_entry:
    cli
    cld
    leaq mgmt_stack_top(%rip), %rsp
    xorl %ebp, %ebp
    call mgmt_main
1:  hlt
    jmp 1b
    .size mgmt_entry, . - mgmt_entry

    .text
.macro EXCEPTION_NO_CODE vector
    .align 16
mgmt_exception_stub_\vector:
    pushq $0
    pushq $\vector
    jmp mgmt_exception_common
.endm
.macro EXCEPTION_WITH_CODE vector
    .align 16
mgmt_exception_stub_\vector:
    pushq $\vector
    jmp mgmt_exception_common
.endm

EXCEPTION_NO_CODE 0
EXCEPTION_NO_CODE 1
EXCEPTION_NO_CODE 2
EXCEPTION_NO_CODE 3
EXCEPTION_NO_CODE 4
EXCEPTION_NO_CODE 5
EXCEPTION_NO_CODE 6
EXCEPTION_NO_CODE 7
EXCEPTION_WITH_CODE 8
EXCEPTION_NO_CODE 9
EXCEPTION_WITH_CODE 10
EXCEPTION_WITH_CODE 11
EXCEPTION_WITH_CODE 12
EXCEPTION_WITH_CODE 13
EXCEPTION_WITH_CODE 14
EXCEPTION_NO_CODE 15
EXCEPTION_NO_CODE 16
EXCEPTION_WITH_CODE 17
EXCEPTION_NO_CODE 18
EXCEPTION_NO_CODE 19
EXCEPTION_NO_CODE 20
EXCEPTION_WITH_CODE 21
EXCEPTION_NO_CODE 22
EXCEPTION_NO_CODE 23
EXCEPTION_NO_CODE 24
EXCEPTION_NO_CODE 25
EXCEPTION_NO_CODE 26
EXCEPTION_NO_CODE 27
EXCEPTION_NO_CODE 28
EXCEPTION_WITH_CODE 29
EXCEPTION_WITH_CODE 30
EXCEPTION_NO_CODE 31

/* Frame layout (ExceptionFrame in runtime/crash.hpp): r15 ... rax, vector, error, then what the
 * CPU pushed: rip, cs, rflags, rsp, ss. */
mgmt_exception_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    andq $-16, %rsp
    call mgmt_exception
1:  hlt
    jmp 1b

/* The local APIC timer's vector (runtime/idle.cpp): its only job is to end a HLT, so it just
 * signals end of interrupt (xAPIC EOI register, identity-mapped) and returns. */
    .align 16
    .globl mgmt_timer_stub
mgmt_timer_stub:
    pushq %rax
    movl $0xFEE000B0, %eax
    movl $0, (%rax)
    popq %rax
    iretq

/* The local APIC's spurious vector: no EOI for it (Intel SDM 10.9). */
    .align 16
    .globl mgmt_spurious_stub
mgmt_spurious_stub:
    iretq

    .section .rodata
    .align 8
    .globl mgmt_exception_stubs
mgmt_exception_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad mgmt_exception_stub_\v
    .endr

    .section .bss
    .align 4096
mgmt_stack_bottom:
    .skip 64 * 1024
    .globl mgmt_stack_top
mgmt_stack_top:
    .globl mgmt_crash_stack_top
    .skip 16 * 1024
mgmt_crash_stack_top:

    .section .note.GNU-stack, "", @progbits
