/* Multiboot v1 entry of the test harness (see harness.c): 32-bit protected mode, paging off.
 * Calls harness_main, then enters long mode with the partition's page tables and jumps to the
 * ELF entry with RDI = MgmtBootInfo and RSP = R + 2 MiB, as the contract specifies. */
    .section .multiboot, "a"
    .align 4
    .long 0x1BADB002
    .long 0x00000003
    .long -(0x1BADB002 + 0x00000003)

    .text
    .code32
    .globl _start
_start:
    cli
    movl $stack_top, %esp
    pushl %ebx
    pushl %eax
    call harness_main
    /* CR4.PAE | OSFXSR | OSXMMEXCPT, CR3 = R + 4 KiB, EFER.LME | NXE | SCE, CR0.PG | WP | NE. */
    movl %cr4, %eax
    orl $((1 << 5) | (1 << 9) | (1 << 10)), %eax
    movl %eax, %cr4
    movl $(0x4000000 + 0x1000), %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx
    rdmsr
    orl $((1 << 8) | (1 << 11) | (1 << 0)), %eax
    wrmsr
    movl %cr0, %eax
    orl $((1 << 31) | (1 << 16) | (1 << 5) | 1), %eax
    movl %eax, %cr0
    lgdt gdt_pointer
    ljmp $0x08, $long_mode

    .code64
long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl harness_boot_info, %edi
    movq $(0x4000000 + 0x200000), %rsp
    movq harness_entry_va, %rax
    jmp *%rax

    .data
    .align 16
gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF
    .quad 0x00CF92000000FFFF
gdt_pointer:
    .word gdt_pointer - gdt - 1
    .long gdt

    .bss
    .align 16
    .skip 16384
stack_top:
