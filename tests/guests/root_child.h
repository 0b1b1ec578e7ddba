/* root_child.h: the child partition's program and memory image, built by root_partition.c in
 * a large page of its own memory before it maps that page into the child at guest-physical 0.
 *
 * The child runs in 64-bit mode (the root sets every register with HvSetVpRegisters) and does,
 * each step ending in an intercept the root handles through HvDispatchVp:
 *   1. OUT 0xC0FFEE01 to port 0x520                         (I/O intercept, "hello")
 *   2. CPUID leaf 0x13370000 (intercepted by the root), then OUT of the EBX it got to 0x521
 *   3. R12 times CPUID leaf 0x13370001 (the round-trip measurement)
 *   4. enables its hypercall page and calls HvCreatePartition: a child has no privilege, so
 *      the status must be ACCESS_DENIED; OUT of the status to 0x522; marker in its data page
 *   5. enables its x2APIC, STI; HLT                           (HALT intercept, IF = 1)
 *   6. vector 0x40 arrives (HvAssertVirtualInterrupt): the handler OUTs 0x40 to 0x523, EOI
 *   7. CLI; HLT                                               (HALT intercept, IF = 0: done)
 * Child memory (guest-physical): GDT 0x1000, IDT 0x2000, page tables 0x3000-0x5FFF (the first
 * GiB identity-mapped in 2 MiB pages), hypercall page 0x6000, hypercall input 0x7000, data
 * 0x8000, code 0x9000, stack below 0x20000. */
#pragma once

#include "root_hv.h"

#define CHILD_GDT 0x1000ull
#define CHILD_IDT 0x2000ull
#define CHILD_PML4 0x3000ull
#define CHILD_PDPT 0x4000ull
#define CHILD_PD 0x5000ull
#define CHILD_DATA 0x8000ull
#define CHILD_CODE 0x9000ull
#define CHILD_STACK 0x20000ull
#define CHILD_VECTOR 0x40

#define PORT_HELLO 0x520
#define PORT_CPUID_SEEN 0x521
#define PORT_HYPERCALL_STATUS 0x522
#define PORT_INTERRUPT 0x523
#define HELLO_MARKER 0xC0FFEE01u
#define DATA_MARKER 0x600DF00Du
#define LEAF_ANSWERED 0x13370000u
#define LEAF_TIMED 0x13370001u

/* The program, position-independent (RIP-relative only): copied to CHILD_CODE. */
extern const uint8_t child_start[], child_handler[], child_end[];
__asm__(".section .rodata.child, \"a\"\n"
        ".code64\n"
        ".globl child_start, child_handler, child_end\n"
        "child_start:\n"
        "  mov $0x520, %edx\n"
        "  mov $0xC0FFEE01, %eax\n"
        "  out %eax, (%dx)\n"
        "  mov $0x13370000, %eax\n"
        "  xor %ecx, %ecx\n"
        "  cpuid\n"
        "  mov %ebx, %eax\n"
        "  mov $0x521, %edx\n"
        "  out %eax, (%dx)\n"
        "1:\n"
        "  mov $0x13370001, %eax\n"
        "  xor %ecx, %ecx\n"
        "  cpuid\n"
        "  dec %r12\n"
        "  jnz 1b\n"
        /* the hypercall page and HvCreatePartition (RCX code, RDX input, R8 output) */
        "  mov $0x40000000, %ecx\n"
        "  mov $1, %eax\n"
        "  mov $0x81000000, %edx\n"
        "  wrmsr\n"
        "  mov $0x40000001, %ecx\n"
        "  mov $0x6001, %eax\n"
        "  xor %edx, %edx\n"
        "  wrmsr\n"
        "  mov $0x40, %ecx\n"
        "  mov $0x7000, %edx\n"
        "  mov $0x7800, %r8d\n"
        "  mov $0x6000, %eax\n"
        "  call *%rax\n"
        "  mov $0x522, %edx\n"
        "  out %eax, (%dx)\n"
        "  movl $0x600DF00D, 0x8000\n"
        /* x2APIC on (APIC_BASE EN | EXTD), software-enabled (SVR) */
        "  mov $0x1B, %ecx\n"
        "  rdmsr\n"
        "  or $0xC00, %eax\n"
        "  wrmsr\n"
        "  mov $0x80F, %ecx\n"
        "  mov $0x1FF, %eax\n"
        "  xor %edx, %edx\n"
        "  wrmsr\n"
        "  sti\n"
        "  hlt\n"
        "  cli\n"
        "  hlt\n"
        "  jmp .\n"
        "child_handler:\n"
        "  push %rax\n"
        "  push %rcx\n"
        "  push %rdx\n"
        "  mov $0x40, %eax\n"
        "  mov $0x523, %edx\n"
        "  out %eax, (%dx)\n"
        "  mov $0x80B, %ecx\n"
        "  xor %eax, %eax\n"
        "  xor %edx, %edx\n"
        "  wrmsr\n"
        "  pop %rdx\n"
        "  pop %rcx\n"
        "  pop %rax\n"
        "  iretq\n"
        "child_end:\n"
        ".previous\n");

/* Writes the child's memory image into the large page at `base` (root guest-physical). */
static void build_child_image(uint64_t base) {
    for (uint64_t at = base; at < base + 0x20000; at += 8)
        *(volatile uint64_t*)at = 0;
    /* GDT: null, 64-bit code (0x08), data (0x10). */
    put64(base + CHILD_GDT, 8, 0x00AF9B000000FFFFull);
    put64(base + CHILD_GDT, 16, 0x00CF93000000FFFFull);
    /* Identity map of the first GiB with 2 MiB pages (present, writable, large). */
    put64(base + CHILD_PML4, 0, CHILD_PDPT | 0x3);
    put64(base + CHILD_PDPT, 0, CHILD_PD | 0x3);
    for (uint32_t i = 0; i < 512; ++i)
        put64(base + CHILD_PD, i * 8, ((uint64_t)i << 21) | 0x83);
    /* The program, and an interrupt gate for CHILD_VECTOR to its handler. */
    const uint64_t size = (uint64_t)(child_end - child_start);
    for (uint64_t i = 0; i < size; ++i)
        *(volatile uint8_t*)(base + CHILD_CODE + i) = child_start[i];
    const uint64_t handler = CHILD_CODE + (uint64_t)(child_handler - child_start);
    const uint64_t gate = base + CHILD_IDT + CHILD_VECTOR * 16;
    put16(gate, 0, (uint16_t)handler);
    put16(gate, 2, 0x08);
    put16(gate, 4, 0x8E00); /* present, DPL 0, 64-bit interrupt gate */
    put16(gate, 6, (uint16_t)(handler >> 16));
    put32(gate, 8, (uint32_t)(handler >> 32));
    put32(gate, 12, 0);
}
