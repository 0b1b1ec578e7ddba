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

// One stub per exception vector: push a zero where the CPU pushes no error code, then the
// vector, so guest_trap always sees the same frame (struct trap_frame in guest.h).
    .text
.macro TRAP vector, has_error
    .globl trap_stub_\vector
trap_stub_\vector:
    .if \has_error == 0
    pushq $0
    .endif
    pushq $\vector
    jmp trap_common
.endm

TRAP 0, 0
TRAP 1, 0
TRAP 2, 0
TRAP 3, 0
TRAP 4, 0
TRAP 5, 0
TRAP 6, 0
TRAP 7, 0
TRAP 8, 1
TRAP 9, 0
TRAP 10, 1
TRAP 11, 1
TRAP 12, 1
TRAP 13, 1
TRAP 14, 1
TRAP 15, 0
TRAP 16, 0
TRAP 17, 1
TRAP 18, 0
TRAP 19, 0
TRAP 20, 0
TRAP 21, 1

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

    .section .rodata
    .globl trap_stubs
    .balign 8
trap_stubs:
    .quad trap_stub_0, trap_stub_1, trap_stub_2, trap_stub_3, trap_stub_4, trap_stub_5
    .quad trap_stub_6, trap_stub_7, trap_stub_8, trap_stub_9, trap_stub_10, trap_stub_11
    .quad trap_stub_12, trap_stub_13, trap_stub_14, trap_stub_15, trap_stub_16, trap_stub_17
    .quad trap_stub_18, trap_stub_19, trap_stub_20, trap_stub_21

    .section .note.GNU-stack, "", @progbits
