// Reference runs of the flat test guests on bare QEMU (run-reference.sh): a Multiboot kernel
// that puts the machine into the state vmm/worker/flat_guest.hpp promises - GDT at 0x1000,
// GPA 0-4 GiB identity-mapped with 2 MiB pages from the PML4 at 0x2000, long mode, RFLAGS = 2,
// RSP = 0x100000 - index * 64 KiB, RDI/RSI/RDX = memory size, vCPU index, vCPU count - on every
// CPU, then jumps to the guest image that QEMU's loader device put at 0x100000. The application
// processors come up through INIT/SIPI into a real-mode trampoline at 0x10000.
    .section .multiboot, "a"
    .balign 4
    .long 0x1BADB002                // magic
    .long 0x00010000                // flags: the address fields below are valid
    .long -(0x1BADB002 + 0x00010000)
    .long 0x800000                  // header_addr (this file is linked and loaded at 8 MiB)
    .long 0x800000                  // load_addr
    .long 0                         // load_end_addr: the whole file
    .long 0                         // bss_end_addr: none
    .long entry                     // entry_addr

    .text
    .code32
    .globl entry
entry:
    cli
    // Both 8259s masked: on Halcyon's platform the PIC never delivers.
    mov $0xFF, %al
    outb %al, $0x21
    outb %al, $0xA1
    // Q35 PAM registers (host bridge 0:0.0, 0x90-0x96): 0xC0000-0xFFFFF becomes plain RAM, as
    // in a Halcyon VM (vCPU 0's stack ends at 0x100000).
    mov $0x80000090, %eax
    mov $0xCF8, %dx
    outl %eax, %dx
    mov $0xCFC, %dx
    mov $0x33333330, %eax
    outl %eax, %dx
    mov $0x80000094, %eax
    mov $0xCF8, %dx
    outl %eax, %dx
    mov $0xCFC, %dx
    mov $0x00333333, %eax
    outl %eax, %dx
    // Tables at 0x1000-0x7FFF.
    mov $0x1000, %edi
    xor %eax, %eax
    mov $(0x7000 / 4), %ecx
    rep stosl
    movl $0x0000FFFF, 0x1008        // 0x08: 64-bit code, DPL 0
    movl $0x00AF9A00, 0x100C
    movl $0x0000FFFF, 0x1010        // 0x10: data
    movl $0x00CF9200, 0x1014
    movl $0x3003, 0x2000            // PML4[0] -> PDPT
    movl $0x4003, 0x3000            // PDPT[0..3] -> four page directories
    movl $0x5003, 0x3008
    movl $0x6003, 0x3010
    movl $0x7003, 0x3018
    mov $0x4000, %edi               // 2048 entries of 2 MiB, present, writable
    mov $0x83, %eax
    mov $2048, %ecx
1:  mov %eax, (%edi)
    add $0x200000, %eax
    add $8, %edi
    loop 1b
    lgdt gdt_pointer
    mov $0x620, %eax                // CR4: PAE | OSFXSR | OSXMMEXCPT
    mov %eax, %cr4
    mov $0x2000, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx           // EFER: LME | NXE
    rdmsr
    or $0x900, %eax
    wrmsr
    mov $0x80010033, %eax           // CR0: PG | WP | NE | ET | MP | PE
    mov %eax, %cr0
    ljmp $0x08, $bsp_long_mode

    .code64
bsp_long_mode:
    call load_data_segments
    mov $0x100000, %rsp
    // The trampoline to 0x10000, then INIT, SIPI, SIPI to all the others.
    lea trampoline(%rip), %rsi
    mov $0x10000, %edi
    mov $(trampoline_end - trampoline), %ecx
    rep movsb
    mov $0xFEE00300, %ebx           // xAPIC ICR (low)
    movl $0x000C4500, (%rbx)
    call delay
    movl $0x000C4610, (%rbx)
    call delay
    movl $0x000C4610, (%rbx)
    call delay
    call delay
    call delay
    mov ap_count(%rip), %eax        // every AP is in by now
    inc %eax
    mov %eax, vcpu_count(%rip)      // releases the APs
    xor %esi, %esi
enter_guest:                        // RSI = this CPU's index, RSP set
    mov $(16 << 20), %rdi
    mov vcpu_count(%rip), %edx
    pushq $2
    popfq
    mov $0x100000, %rax
    jmp *%rax

ap_long_mode:                       // no stack yet: no CALL before RSP is set
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov $1, %esi
    lock xadd %esi, ap_count(%rip)
    inc %esi
    mov %rsi, %rax
    shl $16, %rax
    mov $0x100000, %rsp
    sub %rax, %rsp
1:  pause
    cmpl $0, vcpu_count(%rip)
    je 1b
    jmp enter_guest

load_data_segments:                 // the return works on the firmware's stack segment
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    ret

delay:                              // about 0.1 s
    rdtsc
    shl $32, %rdx
    or %rax, %rdx
    lea 300000000(%rdx), %r8
1:  pause
    rdtsc
    shl $32, %rdx
    or %rax, %rdx
    cmp %r8, %rdx
    jb 1b
    ret

    // Real mode at 0x10000 (CS = 0x1000): straight into long mode with the BSP's tables.
    .code16
trampoline:
    cli
    mov $0x620, %eax
    mov %eax, %cr4
    mov $0x2000, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx
    rdmsr
    or $0x900, %eax
    wrmsr
    lgdtl %cs:(trampoline_gdt - trampoline)
    mov $0x80010033, %eax
    mov %eax, %cr0
    ljmpl $0x08, $ap_long_mode
trampoline_gdt:
    .word 23
    .long 0x1000
trampoline_end:

    .data
    .balign 8
gdt_pointer:
    .word 23
    .long 0x1000
ap_count:
    .long 0
vcpu_count:
    .long 0
