/*
 * A stand-in for firmware that lets QEMU (TCG) start a guest exactly where Halcyon's Linux
 * loader leaves it, so the loader's output can be booted on a reference machine before the
 * hypervisor runs it (tests/guests/linux/boot-loader-output.sh). QEMU maps a 128 KiB "BIOS"
 * image at 0xE0000 (and below 4 GiB); linux-boot-inspect builds that image from:
 *   0xE0000  the guest's ACPI tables, as the loader wrote them
 *   0xFE000  the entry state the loader returned (struct below)
 *   0xFF000  this code (reset vector at 0xFFFF0)
 * and QEMU loads the rest of the loader's guest memory (GDT, page tables, zero page, command
 * line, kernel, initrd) with -device loader. The code:
 *   1. makes the q35 chipset look like the Halcyon platform's fixed ACPI hardware: ICH9 PM I/O
 *      at 0x600 (PM1a_EVT 0x600, PM1a_CNT 0x604, PM_TMR 0x608), ACPI mode on (SCI_EN = 1);
 *   2. goes from real mode straight to 64-bit mode with the loader's CR3, CR4, EFER, GDT and
 *      CR0, far-jumps to __BOOT_CS and loads __BOOT_DS into the data segments;
 *   3. loads RSI and RSP and jumps to the loader's RIP with interrupts off.
 */
    .set PARAMS, 0xFE000          /* linear address of the entry state */
    .set PARAMS_SEGMENT, 0xF000   /* real-mode segment reaching it at offset 0xE000 */
    .set P_CR0, 0xE000
    .set P_CR3, 0xE008
    .set P_CR4, 0xE010
    .set P_EFER, 0xE018
    .set P_GDTR, 0xE020           /* u16 limit, u32 base */
    .set P_RIP, PARAMS + 0x28
    .set P_RSI, PARAMS + 0x30
    .set P_RSP, PARAMS + 0x38
    .set BOOT_CS, 0x10
    .set BOOT_DS, 0x18
    .set LPC_CONFIG, 0x8000F800   /* PCI 00:1f.0, the ICH9 LPC bridge */
    .set PM_BASE, 0x600
    .set PM1A_CNT, 0x604
    .set MSR_EFER, 0xC0000080
    .set EFER_LMA, 0x400

    .section .text, "ax"
    .code16
start16:
    cli
    cld
    /* ICH9: PMBASE (LPC config 0x40) = 0x600, ACPI_CNTL (0x44) ACPI_EN. */
    movl $(LPC_CONFIG + 0x40), %eax
    movw $0xCF8, %dx
    outl %eax, %dx
    movl $(PM_BASE | 1), %eax
    movw $0xCFC, %dx
    outl %eax, %dx
    movl $(LPC_CONFIG + 0x44), %eax
    movw $0xCF8, %dx
    outl %eax, %dx
    movb $0x80, %al
    movw $0xCFC, %dx
    outb %al, %dx
    /* SCI_EN: the platform is always in ACPI mode (the FADT has no SMI command port). */
    movw $1, %ax
    movw $PM1A_CNT, %dx
    outw %ax, %dx

    movw $PARAMS_SEGMENT, %ax
    movw %ax, %ds
    movl %ds:P_CR4, %eax
    movl %eax, %cr4
    movl %ds:P_CR3, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    movl %ds:P_EFER, %eax
    andl $~EFER_LMA, %eax         /* LMA is set by the CPU when paging turns on */
    xorl %edx, %edx
    wrmsr
    lgdtl %ds:P_GDTR
    movl %ds:P_CR0, %eax
    movl %eax, %cr0               /* PE and PG at once: long mode, compatibility submode */
    ljmpl $BOOT_CS, $start64

    .code64
start64:
    movl $BOOT_DS, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    movq P_RSI, %rsi
    movq P_RSP, %rsp
    movq P_RIP, %rax
    xorl %ebx, %ebx
    xorl %ecx, %ecx
    xorl %edx, %edx
    xorl %edi, %edi
    xorl %ebp, %ebp
    jmpq *%rax

    .section .reset, "ax"
    .code16
reset:                            /* 0xFFFF0: CS base 0xFFFF0000 until the first far jump */
    ljmpw $0xF000, $(start16 - 0xF0000)
    .balign 16, 0xF4
