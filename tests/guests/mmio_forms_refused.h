/* Part of mmio_forms.c: instructions the MMIO emulator does not emulate must raise #UD in the
 * guest (vmm/emulate/emulator.hpp: "refused with #UD rather than guessed at"), at the
 * instruction, with no register or memory changed - while the CPU runs them on RAM. */
#pragma once

struct refused_run {
    struct fault_result fault;
    uint64_t address; /* of the instruction */
    uint64_t rax, rcx;
};

/* Each runs one instruction on (%rbx) with RAX = 0x1111 and RCX = 0x2222 and steps over it if
 * it faults (the lengths are those of the encodings with RBX as the base). */
static struct refused_run run_cmpxchg(uint64_t target) {
    struct refused_run run = {.rax = 0x1111, .rcx = 0x2222};
    expect_fault(3);
    __asm__ volatile("lea 1f(%%rip), %2\n1: cmpxchgl %%ecx, (%%rbx)"
                     : "+a"(run.rax), "+c"(run.rcx), "=&d"(run.address)
                     : "b"(target)
                     : "memory", "cc");
    run.fault = fault_taken();
    return run;
}

static struct refused_run run_xadd(uint64_t target) {
    struct refused_run run = {.rax = 0x1111, .rcx = 0x2222};
    expect_fault(3);
    __asm__ volatile("lea 1f(%%rip), %2\n1: xaddl %%ecx, (%%rbx)"
                     : "+a"(run.rax), "+c"(run.rcx), "=&d"(run.address)
                     : "b"(target)
                     : "memory", "cc");
    run.fault = fault_taken();
    return run;
}

/* MOVDQU (%rbx), %xmm0 as bytes: the guest is compiled without SSE, but CR4.OSFXSR is set so
 * the CPU runs it. */
static struct refused_run run_movdqu(uint64_t target) {
    struct refused_run run = {.rax = 0x1111, .rcx = 0x2222};
    expect_fault(4);
    __asm__ volatile("lea 1f(%%rip), %2\n1: .byte 0xf3, 0x0f, 0x6f, 0x03"
                     : "+a"(run.rax), "+c"(run.rcx), "=&d"(run.address)
                     : "b"(target)
                     : "memory", "cc");
    run.fault = fault_taken();
    return run;
}

static void refused(struct checks* checks, const char* name,
                    struct refused_run (*run)(uint64_t target)) {
    volatile uint64_t* ram = (volatile uint64_t*)(ram_page + OPERAND);
    volatile uint64_t* mmio = (volatile uint64_t*)(MMIO_BASE + OPERAND);
    *ram = 0x1111;
    const struct refused_run on_ram = run((uint64_t)ram);
    check_begin(checks, name);
    print(" on RAM runs");
    print_value_signed("vector", on_ram.fault.vector);
    check_end(checks, on_ram.fault.vector == -1);

    *mmio = 0x1111; /* equal to RAX: CMPXCHG would store RCX if it ran */
    const struct refused_run on_mmio = run(MMIO_BASE + OPERAND);
    const uint64_t memory = *mmio;
    check_begin(checks, name);
    print(" on MMIO raises #UD at the instruction, nothing changed");
    print_value_signed("vector", on_mmio.fault.vector);
    print_value_hex("rip", on_mmio.fault.rip);
    print_value_hex("insn", on_mmio.address);
    print_value_hex("rax", on_mmio.rax);
    print_value_hex("rcx", on_mmio.rcx);
    print_value_hex("mem", memory);
    check_end(checks, on_mmio.fault.vector == 6 && on_mmio.fault.rip == on_mmio.address &&
                          on_mmio.rax == 0x1111 && on_mmio.rcx == 0x2222 && memory == 0x1111);
}

static void refused_instructions(struct checks* checks) {
    refused(checks, "cmpxchg", run_cmpxchg);
    refused(checks, "xadd", run_xadd);
    refused(checks, "movdqu", run_movdqu);
}
