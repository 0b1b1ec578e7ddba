// One entry stub per IDT vector. Each stub makes the stack look the same (a dummy error code for
// vectors where the CPU pushes none, then the vector number) and jumps to interrupt_common, which
// saves every general register into an x86::InterruptFrame (interrupts.hpp) and calls
// interrupt_dispatch(InterruptFrame&). No SSE state is saved: the core is built without SSE.

// Vectors where the CPU pushes an error code: #DF 8, #TS 10, #NP 11, #SS 12, #GP 13, #PF 14,
// #AC 17, #CP 21, #VC 29, #SX 30.
// Stubs are named by the vector's two hex digits (interrupt_stub_<hi>_<lo>) because the
// assembler's loops can only paste text, not evaluate a counter into a label name.
.macro INTERRUPT_STUB hi, lo
    .p2align 4
interrupt_stub_\hi\()_\lo:
    .if ((\hi * 16 + \lo) == 8) || ((\hi * 16 + \lo) >= 10 && (\hi * 16 + \lo) <= 14) || ((\hi * 16 + \lo) == 17) || ((\hi * 16 + \lo) == 21) || ((\hi * 16 + \lo) == 29) || ((\hi * 16 + \lo) == 30)
    .else
    pushq $0
    .endif
    pushq $(\hi * 16 + \lo)
    jmp interrupt_common
.endm

    .section .text.interrupt_stubs, "ax", @progbits
    .p2align 4
interrupt_common:
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
    cld
    movq %rsp, %rdi
    // The CPU aligns the stack only for 64-bit interrupt frames on some paths; align it for the
    // C++ ABI and restore the exact value afterwards (rbx is callee-saved).
    movq %rsp, %rbx
    andq $-16, %rsp
    call interrupt_dispatch
    movq %rbx, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp // vector and error code
    iretq

.irp hi, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
.irp lo, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    INTERRUPT_STUB \hi, \lo
.endr
.endr

// Table of the stubs' addresses, indexed by vector, for build_idt().
    .section .rodata.interrupt_stub_table, "a", @progbits
    .p2align 3
    .globl interrupt_stub_table
interrupt_stub_table:
.irp hi, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
.irp lo, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    .quad interrupt_stub_\hi\()_\lo
.endr
.endr

    .section .note.GNU-stack, "", @progbits
