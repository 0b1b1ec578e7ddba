/* The tiny library of Halcyon's flat test guests: serial output on COM1, CPUID/MSR helpers and
 * an IDT whose handler lets a test expect a fault and step over the faulting instruction. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What entry.S pushes for every exception: general registers, vector, error code, CPU frame. */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

/* The test's entry point (see entry.S for the arguments). */
void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count);
/* Stops the guest: HLT with interrupts off. */
__attribute__((noreturn)) void guest_stop(void);

void put_char(char c);
void print(const char* text);
void print_hex(uint64_t value);
void print_dec(uint64_t value);
/* print(text) and a newline. */
void println(const char* text);

/* Keeps the lines of several vCPUs whole. Waiting uses PAUSE, which Halcyon intercepts: the
 * waiting vCPU gives its physical CPU to the lock holder instead of spinning for nothing. */
void console_lock(void);
void console_unlock(void);

/* Builds the IDT (all 256 vectors) and loads it on the calling vCPU. Vectors without a handler
 * (set_vector_handler) go to the fault logic below when they are exceptions (0-31); any other
 * vector is reported as an unexpected interrupt and stops the vCPU. */
void install_idt(void);
/* Loads the IDT install_idt() built, on another vCPU of the same guest. */
void load_idt(void);

/* A handler for one vector, called with the frame of the interrupted code (it may change RIP,
 * RFLAGS or the saved registers). Interrupt handlers must send the EOI themselves (apic.h). */
typedef void (*vector_handler)(struct trap_frame* frame);
void set_vector_handler(uint8_t vector, vector_handler handler);

/* Runs `code` expecting one exception: returns the vector that occurred (-1 for none). The
 * faulting instruction is skipped by `length` bytes. */
struct fault_result {
    int vector;
    uint64_t error_code;
    uint64_t rip;            /* where the exception was reported */
    uint64_t cr2;            /* CR2 when the exception was a #PF */
    struct trap_frame frame; /* the registers at the exception (before the skip) */
};
void expect_fault(uint8_t length);
struct fault_result fault_taken(void);

/* The index of the vCPU running the caller, without an exit: every vCPU starts on its own
 * 64 KiB stack below 0x100000 (vmm/worker/flat_guest.hpp) and handlers run on that stack. */
static inline uint32_t current_vcpu(void) {
    uint64_t rsp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
    return (uint32_t)((0x100000 - 1 - rsp) >> 16);
}

/* Pass/fail bookkeeping with one line per check: check_begin() prints "NAME: what", the caller
 * may add measured values with print_*(), check_end() finishes the line with ": ok" or ": FAIL"
 * and returns `ok`. check_summary() prints "NAME: PASS n/n" or "NAME: FAIL passed/total". */
struct checks {
    const char* name;
    uint32_t passed;
    uint32_t total;
};
void check_begin(struct checks* checks, const char* what);
bool check_end(struct checks* checks, bool ok);
/* check_begin + check_end for checks without values to show. */
bool check_ok(struct checks* checks, const char* what, bool ok);
void check_summary(const struct checks* checks);
/* " label=value" in decimal or hex. */
void print_value(const char* label, uint64_t value);
void print_value_hex(const char* label, uint64_t value);
/* " label=value" for a signed value (a fault_result vector: -1 when none was taken). */
void print_value_signed(const char* label, int64_t value);

static inline void outb(uint16_t port, uint8_t value) {
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}
static inline uint8_t inb(uint16_t port) {
    uint8_t value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}
static inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4]) {
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(subleaf));
}
static inline uint64_t rdmsr(uint32_t msr) {
    uint32_t low, high;
    __asm__ volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(msr));
    return ((uint64_t)high << 32) | low;
}
static inline void wrmsr(uint32_t msr, uint64_t value) {
    __asm__ volatile("wrmsr"
                     :
                     : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                     : "memory");
}
static inline void cpu_pause(void) {
    __asm__ volatile("pause" ::: "memory");
}
static inline void outl(uint16_t port, uint32_t value) {
    __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}
static inline uint32_t inl(uint16_t port) {
    uint32_t value;
    __asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}
static inline uint64_t rdtsc(void) {
    uint32_t low, high;
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    return ((uint64_t)high << 32) | low;
}
static inline void interrupts_on(void) {
    __asm__ volatile("sti" ::: "memory");
}
static inline void interrupts_off(void) {
    __asm__ volatile("cli" ::: "memory");
}
/* Lets pending interrupts in for a moment while busy-waiting: STI's shadow covers the NOP, so
 * the window is the boundary after it; PAUSE then yields the CPU with interrupts enabled.
 * (Not "sti; pause": that leaves PAUSE in the shadow, and an emulator that ends the shadow
 * only after an instruction it completed normally - QEMU's TCG among them - never opens the
 * window.) Returns with interrupts off. */
static inline void accept_interrupts(void) {
    __asm__ volatile("sti; nop; pause; cli" ::: "memory");
}
/* Waits for an interrupt with interrupts enabled only while halted: STI's one-instruction
 * shadow makes "sti; hlt" atomic, so an interrupt that became pending just before is not lost
 * (it ends the HLT at once). Returns with interrupts off, after the handler ran. */
static inline void wait_for_interrupt(void) {
    __asm__ volatile("sti; hlt; cli" ::: "memory");
}

/* A checksum of [start, end) of the guest's memory (FNV-1a over 64-bit words). */
uint64_t memory_checksum(uint64_t start, uint64_t end);
/* Fills [start, end) with a pattern derived from `seed`. */
void memory_fill(uint64_t start, uint64_t end, uint64_t seed);
