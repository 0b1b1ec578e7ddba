/* root_calls.h: the privileged hypercalls as root_partition.c makes them - one function per
 * call filling the input page, and the intercept messages it reads from SINT 0 of its SynIC
 * (docs/management-partition.md). */
#pragma once

#include "root_hv.h"

#define PFN(address) ((address) >> 12)

/* Register names (hv_register_name), message types, map flags. */
#define REG_RAX 0x00020000u
#define REG_RCX 0x00020001u
#define REG_RDX 0x00020002u
#define REG_RBX 0x00020003u
#define REG_RSP 0x00020004u
#define REG_R12 0x0002000Cu
#define REG_RIP 0x00020010u
#define REG_RFLAGS 0x00020011u
#define REG_CR0 0x00040000u
#define REG_CR3 0x00040002u
#define REG_CR4 0x00040003u
#define REG_ES 0x00060000u
#define REG_CS 0x00060001u
#define REG_SS 0x00060002u
#define REG_DS 0x00060003u
#define REG_FS 0x00060004u
#define REG_GS 0x00060005u
#define REG_LDTR 0x00060006u
#define REG_TR 0x00060007u
#define REG_IDTR 0x00070000u
#define REG_GDTR 0x00070001u
#define REG_EFER 0x00080001u
#define REG_PAT 0x00080004u
#define REG_EXPLICIT_SUSPEND 0x0u

#define MESSAGE_IO 0x80010000u
#define MESSAGE_CPUID 0x80010002u
#define MESSAGE_HALT 0x80010007u
#define MESSAGE_UNRECOVERABLE 0x80000021u
#define MAP_LARGE_RWX 0x8000000Fu
#define UNMAP_LARGE 0x2u

/* --- the calls --- */

static uint64_t create_partition(uint64_t flags, uint64_t isolation, uint64_t* id) {
    clear_page(INPUT_PAGE);
    put64(INPUT_PAGE, 0, flags);
    put64(INPUT_PAGE, 48, isolation);
    put64(OUTPUT_PAGE, 0, 0);
    const uint64_t result = hypercall(HVCALL_CREATE_PARTITION, INPUT_PAGE, OUTPUT_PAGE);
    *id = get64(OUTPUT_PAGE, 0);
    return result;
}

static uint64_t partition_call(uint16_t code, uint64_t id) {
    put64(INPUT_PAGE, 0, id);
    return hypercall(code, INPUT_PAGE, 0);
}

static uint64_t deposit(uint64_t id, const uint64_t* pfns, uint32_t count) {
    put64(INPUT_PAGE, 0, id);
    for (uint32_t i = 0; i < count; ++i)
        put64(INPUT_PAGE, 8 + 8 * i, pfns[i]);
    return hypercall(HVCALL_DEPOSIT_MEMORY | REPS(count), INPUT_PAGE, 0);
}

static uint64_t map_pages(uint64_t id, uint64_t child_address, uint32_t flags, uint64_t pfn) {
    put64(INPUT_PAGE, 0, id);
    put64(INPUT_PAGE, 8, PFN(child_address));
    put32(INPUT_PAGE, 16, flags);
    put32(INPUT_PAGE, 20, 0);
    put64(INPUT_PAGE, 24, pfn);
    return hypercall(HVCALL_MAP_GPA_PAGES | REPS(1), INPUT_PAGE, 0);
}

static uint64_t unmap_pages(uint64_t id, uint64_t child_address, uint32_t count) {
    put64(INPUT_PAGE, 0, id);
    put64(INPUT_PAGE, 8, PFN(child_address));
    put32(INPUT_PAGE, 16, UNMAP_LARGE);
    put32(INPUT_PAGE, 20, 0);
    return hypercall(HVCALL_UNMAP_GPA_PAGES | REPS(count), INPUT_PAGE, 0);
}

static uint64_t install_intercept(uint64_t id, uint32_t access, uint32_t type, uint64_t param) {
    put64(INPUT_PAGE, 0, id);
    put32(INPUT_PAGE, 8, access);
    put32(INPUT_PAGE, 12, type);
    put64(INPUT_PAGE, 16, param);
    return hypercall(HVCALL_INSTALL_INTERCEPT, INPUT_PAGE, 0);
}

static uint64_t create_vp(uint64_t id, uint32_t vp) {
    clear_page(INPUT_PAGE);
    put64(INPUT_PAGE, 0, id);
    put32(INPUT_PAGE, 8, vp);
    return hypercall(HVCALL_CREATE_VP, INPUT_PAGE, 0);
}

struct reg {
    uint32_t name;
    uint64_t low, high;
};

static uint64_t set_registers(uint64_t id, uint32_t vp, const struct reg* regs, uint32_t count) {
    put64(INPUT_PAGE, 0, id);
    put64(INPUT_PAGE, 8, vp);
    for (uint32_t i = 0; i < count; ++i) {
        const uint32_t at = 16 + 32 * i;
        put64(INPUT_PAGE, at, regs[i].name);
        put64(INPUT_PAGE, at + 8, 0);
        put64(INPUT_PAGE, at + 16, regs[i].low);
        put64(INPUT_PAGE, at + 24, regs[i].high);
    }
    return hypercall(HVCALL_SET_VP_REGISTERS | REPS(count), INPUT_PAGE, 0);
}

static uint64_t set_register(uint64_t id, uint32_t name, uint64_t value) {
    const struct reg one = {name, value, 0};
    return set_registers(id, 0, &one, 1);
}

static uint64_t get_register(uint64_t id, uint32_t name, uint64_t* value) {
    put64(INPUT_PAGE, 0, id);
    put64(INPUT_PAGE, 8, 0);
    put32(INPUT_PAGE, 16, name);
    const uint64_t result = hypercall(HVCALL_GET_VP_REGISTERS | REPS(1), INPUT_PAGE, OUTPUT_PAGE);
    *value = get64(OUTPUT_PAGE, 0);
    return result;
}

/* hv_x64_segment_register as the 128-bit register value. */
static struct reg segment(uint32_t name, uint16_t selector, uint16_t attributes, uint32_t limit) {
    const struct reg r = {name, 0,
                          limit | ((uint64_t)selector << 32) | ((uint64_t)attributes << 48)};
    return r;
}

struct dispatched {
    uint16_t status;
    uint32_t state, event;
};

static struct dispatched dispatch(uint64_t id) {
    clear_page(INPUT_PAGE);
    put64(INPUT_PAGE, 0, id);
    put64(OUTPUT_PAGE, 0, 0);
    const uint64_t result = hypercall(HVCALL_DISPATCH_VP, INPUT_PAGE, OUTPUT_PAGE);
    const struct dispatched d = {hv_status(result), get32(OUTPUT_PAGE, 0), get32(OUTPUT_PAGE, 4)};
    return d;
}

/* --- intercept messages in SINT 0's slot --- */

struct message {
    uint32_t type, size;
    uint64_t rip, rflags;
    uint8_t instruction_length, access;
    uint16_t port;
    uint8_t access_info;
    uint64_t rax, rbx, rcx, rdx; /* I/O: rax; CPUID: the guest's rax/rbx/rcx/rdx */
    uint64_t default_rax;
};

static struct message take_message(void) {
    const uint64_t slot = SIMP_PAGE; /* SINT 0 */
    const uint64_t p = slot + 16;    /* the payload */
    struct message m;
    m.type = get32(slot, 0);
    m.size = *(volatile uint8_t*)(slot + 4);
    m.instruction_length = *(volatile uint8_t*)(p + 4) & 0xF;
    m.access = *(volatile uint8_t*)(p + 5);
    m.rip = get64(p, 24);
    m.rflags = get64(p, 32);
    m.port = get16(p, 40);
    m.access_info = *(volatile uint8_t*)(p + 42);
    m.rax = m.type == MESSAGE_IO ? get64(p, 48) : get64(p, 40);
    m.rcx = get64(p, 48);
    m.rdx = get64(p, 56);
    m.rbx = get64(p, 64);
    m.default_rax = get64(p, 72);
    const uint8_t flags = *(volatile uint8_t*)(slot + 5);
    put32(slot, 0, 0); /* the slot is free again (TLFS: then EOM if a message is pending) */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (flags & 1)
        wrmsr(MSR_EOM, 0);
    return m;
}

static uint32_t preemptions;

/* Dispatches VP 0 until it stops with an intercept; the message, or type 0 on an error. */
static struct message run_child(uint64_t id) {
    for (;;) {
        const struct dispatched d = dispatch(id);
        if (d.status != HV_STATUS_SUCCESS || d.state != 2) {
            print("root: HvDispatchVp failed");
            print_value_hex("status", d.status);
            print_value("state", d.state);
            print_value("event", d.event);
            put_char('\n');
            struct message none = {0};
            return none;
        }
        if (d.event == 2)
            return take_message();
        ++preemptions; /* preempted or the slice ended: run it again */
    }
}

static uint64_t complete(uint64_t id, const struct message* m) {
    return set_register(id, REG_RIP, m->rip + m->instruction_length);
}
