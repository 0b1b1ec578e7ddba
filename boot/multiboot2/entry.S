// multiboot2_entry: where GRUB starts the boot stage (Multiboot2 specification, 3.3 "I386
// machine state"): 32-bit protected mode with flat segments, paging off, interrupts off, EAX =
// the boot loader magic, EBX = the physical address of the boot information, no usable stack.
//
// Here: zero .bss, take our own stack, check for a 64-bit CPU, build temporary page tables that
// map the first 4 GiB 1:1 with 2 MiB pages (the stage and everything GRUB loaded lies there),
// enter long mode with our own GDT and call multiboot2_main(magic, information) in C++. The
// core's own page tables are built later, in C++, exactly as the UEFI loader builds them.

    .set MULTIBOOT2_MAGIC, 0xE85250D6
    .set MULTIBOOT2_ARCH_I386, 0
    .set MULTIBOOT2_HEADER_SIZE, multiboot2_header_end - multiboot2_header
    .set MSR_EFER, 0xC0000080
    .set EFER_LME, 1 << 8
    .set CR4_PAE, 1 << 5
    .set CR0_PE_PG, (1 << 0) | (1 << 31)
    .set PAGE_PRESENT_WRITABLE, 0x3
    .set PAGE_LARGE, 0x80
    .set COM1, 0x3F8

// The header GRUB looks for in the first 32 KiB of the file (8-byte aligned), with a checksum
// that makes the first four fields sum to 0 (mod 2^32).
    .section .multiboot2, "a"
    .balign 8
multiboot2_header:
    .long MULTIBOOT2_MAGIC
    .long MULTIBOOT2_ARCH_I386
    .long MULTIBOOT2_HEADER_SIZE
    .long 0x100000000 - (MULTIBOOT2_MAGIC + MULTIBOOT2_ARCH_I386 + MULTIBOOT2_HEADER_SIZE)
    // Module alignment tag (type 6): modules on page boundaries, as handoff::Module requires.
    .balign 8
    .short 6, 0
    .long 8
    // End tag.
    .balign 8
    .short 0, 0
    .long 8
multiboot2_header_end:

    .section .text.entry32, "ax", @progbits
    .code32
    .globl multiboot2_entry
    .type multiboot2_entry, @function
multiboot2_entry:
    cli
    cld
    movl %eax, %ebp             // magic: checked in C++, where the failure can be reported
    movl %ebx, %esi             // boot information

    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb
    movl $boot_stack_top, %esp

    // Long mode needs CPUID 0x80000001 EDX.LM (bit 29).
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb no_long_mode
    movl $0x80000001, %eax
    cpuid
    btl $29, %edx
    jnc no_long_mode

    // PML4[0] -> PDPT; PDPT[0..3] -> the four page directories; each of their 2048 entries
    // maps the next 2 MiB.
    movl $boot_pdpt + PAGE_PRESENT_WRITABLE, boot_pml4
    movl $boot_pdpt, %edi
    movl $boot_page_directories + PAGE_PRESENT_WRITABLE, %eax
    movl $4, %ecx
1:  movl %eax, (%edi)
    addl $4096, %eax
    addl $8, %edi
    loop 1b
    movl $boot_page_directories, %edi
    movl $PAGE_PRESENT_WRITABLE | PAGE_LARGE, %eax
    movl $2048, %ecx
2:  movl %eax, (%edi)
    addl $0x200000, %eax
    addl $8, %edi
    loop 2b

    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr
    movl %cr0, %eax
    orl $CR0_PE_PG, %eax
    movl %eax, %cr0
    lgdt boot_gdt_pointer
    ljmp $0x08, $long_mode_entry

// Prints a fixed message on COM1 (GRUB's serial setup or the BIOS default, whatever it is) and
// stops: without long mode there is nothing the stage can do.
no_long_mode:
    movl $no_long_mode_message, %esi
3:  lodsb
    testb %al, %al
    jz 5f
    movb %al, %bl
    movw $COM1 + 5, %dx
4:  inb %dx, %al                // wait for the transmitter holding register to empty
    testb $0x20, %al
    jz 4b
    movw $COM1, %dx
    movb %bl, %al
    outb %al, %dx
    jmp 3b
5:  cli
    hlt
    jmp 5b
    .size multiboot2_entry, . - multiboot2_entry

    .code64
long_mode_entry:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movq $boot_stack_top, %rsp
    // The upper halves of registers written in 32-bit mode are undefined in long mode:
    // zero-extend the two arguments explicitly.
    movl %ebp, %edi
    movl %esi, %esi
    xorl %ebp, %ebp
    call multiboot2_main
6:  cli
    hlt
    jmp 6b

    .section .rodata
no_long_mode_message:
    .asciz "\r\nHALCYON BOOT FAILED: this CPU cannot run 64-bit code (no long mode)\r\n"

    .balign 8
boot_gdt:
    .quad 0                     // null
    .quad 0x00AF9A000000FFFF    // 0x08: 64-bit code, present, ring 0
    .quad 0x00CF92000000FFFF    // 0x10: data, present, writable
boot_gdt_end:
boot_gdt_pointer:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .section .bss
    .balign 4096
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_page_directories:
    .skip 4 * 4096
boot_stack:
    .skip 64 * 1024
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
