// Entry and exception stubs of the flat test guests.
//
// The VM worker enters _start in 64-bit mode with RDI = memory size, RSI = vCPU index and
// RDX = vCPU count (vmm/worker/flat_guest.hpp): exactly guest_main's arguments. When it returns
// the guest stops the way the harness expects a finished guest to: HLT with interrupts off.
    .section .text.entry, "ax"
    .globl _start
_start:
    andq $-16, %rsp
    call guest_main
    .globl guest_stop
guest_stop:
    cli
1:  hlt
    jmp 1b

// One stub per vector, 0-255, each 16 bytes long (guest.c finds vector v's stub at
// trap_stub_base + 16 * v): push a zero where the CPU pushes no error code, then the vector, so
// guest_trap always sees the same frame (struct trap_frame in guest.h). The CPU pushes an error
// code for #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP, #VC and #SX only; external interrupts and
// software-generated vectors never push one.
    .text
    .balign 16
    .globl trap_stub_base
trap_stub_base:
    .set vector, 0
    .rept 256
    .balign 16
    .if (vector == 8) || ((vector >= 10) && (vector <= 14)) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
    .else
    pushq $0
    .endif
    pushq $vector
    jmp trap_common
    .set vector, vector + 1
    .endr
    .balign 16
    .globl trap_stub_end
trap_stub_end: // install_idt() checks that the stubs took exactly 256 * 16 bytes

trap_common:
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
    cld // the interrupted code may have DF set; C code expects it clear (IRETQ restores it)
    call guest_trap
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
    addq $16, %rsp
    iretq

    .section .note.GNU-stack, "", @progbits
