// core_entry: where the loader jumps (see the boot contract in boot/handoff/handoff.hpp).
// On entry: rdi = physical address of the Handoff, interrupts off, rsp = top of the loader's boot
// stack (direct-mapped), loader page tables, firmware GDT. We zero .bss ourselves (so the core
// does not depend on how a loader treats p_memsz > p_filesz), clear rbp so frame-pointer
// backtraces end here, and call kernel_main(handoff_physical, entry_tsc).

    .section .text.entry, "ax", @progbits
    .globl core_entry
    .type core_entry, @function
core_entry:
    // The earliest timestamp the core can take: log times are measured from here.
    rdtsc
    shlq $32, %rdx
    orq %rax, %rdx
    movq %rdx, %r13
    movq %rdi, %r12

    cld
    leaq __bss_start(%rip), %rdi
    leaq __bss_end(%rip), %rcx
    subq %rdi, %rcx
    xorl %eax, %eax
    rep stosb

    movq %r12, %rdi
    movq %r13, %rsi
    xorl %ebp, %ebp
    andq $-16, %rsp
    call kernel_main

    // kernel_main never returns; if it ever did, stop here rather than run off the end.
1:  cli
    hlt
    jmp 1b
    .size core_entry, . - core_entry

    .section .note.GNU-stack, "", @progbits
