// AP start-up code. A STARTUP IPI leaves the AP in 16-bit real mode at the start of the
// trampoline page; this code climbs to protected mode, then to long mode on temporary page
// tables below 4 GiB (CR3 is loaded while still in 32-bit mode, so it cannot point higher), then
// switches to the core's page tables and jumps to ap_entry(PerCpu*) on the AP's own stack.
//
// The code is copied at run time into a page whose address is only known then, so it is written
// position-independent: every reference is an offset from the page start, combined with the page
// base held in %ebx (derived from CS, which the SIPI sets to page / 16). It lives in .rodata
// because the core never executes it in place.
#include "vmm/arch/x86_64/trampoline_layout.hpp"

#define PARAM(field) (TRAMPOLINE_PARAMETERS_OFFSET + field)
#define OFFSET(label) (label - ap_trampoline_start)

#define CR0_PE (1 << 0)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xC0000080

#define CODE32_SELECTOR 0x08
#define DATA_SELECTOR 0x10
#define CODE64_SELECTOR 0x18

    .section .rodata.ap_trampoline, "a"
    .balign 16
    .globl ap_trampoline_start
ap_trampoline_start:
    .code16
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    movl $TRAMPOLINE_STAGE_REAL_MODE, PARAM(TRAMPOLINE_STAGE)
    // %ebx = physical base of the page.
    xorl %ebx, %ebx
    movw %ax, %bx
    shll $4, %ebx
    // Patch the linear addresses this copy needs: the GDT base and the two far-jump targets.
    leal OFFSET(gdt)(%ebx), %eax
    movl %eax, OFFSET(gdt_pointer) + 2
    leal OFFSET(protected_mode)(%ebx), %eax
    movl %eax, OFFSET(far_pointer_32)
    leal OFFSET(long_mode)(%ebx), %eax
    movl %eax, OFFSET(far_pointer_64)
    lgdtl OFFSET(gdt_pointer)
    movl %cr0, %eax
    orl $CR0_PE, %eax
    movl %eax, %cr0
    ljmpl *OFFSET(far_pointer_32)

    .code32
protected_mode:
    movw $DATA_SELECTOR, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl $TRAMPOLINE_STAGE_PROTECTED_MODE, PARAM(TRAMPOLINE_STAGE)(%ebx)
    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl PARAM(TRAMPOLINE_TEMPORARY_CR3)(%ebx), %eax
    movl %eax, %cr3
    // EFER as the BSP has it (LME, NXE, SCE): NXE must be on before the core's tables, which
    // use NX bits, are walked.
    movl $MSR_EFER, %ecx
    movl PARAM(TRAMPOLINE_EFER)(%ebx), %eax
    movl PARAM(TRAMPOLINE_EFER) + 4(%ebx), %edx
    wrmsr
    // Paging on with LME set activates long mode (compatibility mode until the far jump).
    movl %cr0, %eax
    orl $(CR0_PG | CR0_PE), %eax
    movl %eax, %cr0
    ljmpl *OFFSET(far_pointer_64)(%ebx)

    .code64
long_mode:
    // The upper halves of registers are undefined after the mode switch.
    movl %ebx, %ebx
    movl $TRAMPOLINE_STAGE_LONG_MODE, PARAM(TRAMPOLINE_STAGE)(%rbx)
    // The core's tables identity-map this page read-only and executable: no writes from here.
    movq PARAM(TRAMPOLINE_FINAL_CR3)(%rbx), %rax
    movq %rax, %cr3
    movq PARAM(TRAMPOLINE_CR4)(%rbx), %rax
    movq %rax, %cr4
    movq PARAM(TRAMPOLINE_CR0)(%rbx), %rax
    movq %rax, %cr0
    movq PARAM(TRAMPOLINE_STACK_TOP)(%rbx), %rsp
    movq PARAM(TRAMPOLINE_PERCPU)(%rbx), %rdi
    movq PARAM(TRAMPOLINE_ENTRY)(%rbx), %rax
    xorl %ebp, %ebp
    // A null return address ends backtraces and gives the SysV entry alignment (rsp + 8 is a
    // multiple of 16 on entry to a function).
    pushq $0
    jmpq *%rax

    .balign 8
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF // 0x08: 32-bit code, base 0, 4 GiB
    .quad 0x00CF92000000FFFF // 0x10: data, base 0, 4 GiB
    .quad 0x00AF9A000000FFFF // 0x18: 64-bit code
gdt_end:
gdt_pointer:
    .word gdt_end - gdt - 1
    .long 0 // base: patched by the real-mode code
    .balign 4
far_pointer_32:
    .long 0 // offset: patched
    .word CODE32_SELECTOR
    .balign 4
far_pointer_64:
    .long 0 // offset: patched
    .word CODE64_SELECTOR
    .globl ap_trampoline_end
ap_trampoline_end:

    // smp.cpp checks at run time that the code ends before the parameter block.
