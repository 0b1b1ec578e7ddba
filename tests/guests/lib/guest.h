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

/* Loads an IDT for vectors 0-21 that calls the fault logic below. */
void install_idt(void);

/* Runs `code` expecting one exception: returns the vector that occurred (-1 for none). The
 * faulting instruction is skipped by `length` bytes. */
struct fault_result {
    int vector;
    uint64_t error_code;
};
void expect_fault(uint8_t length);
struct fault_result fault_taken(void);

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

/* A checksum of [start, end) of the guest's memory (FNV-1a over 64-bit words). */
uint64_t memory_checksum(uint64_t start, uint64_t end);
/* Fills [start, end) with a pattern derived from `seed`. */
void memory_fill(uint64_t start, uint64_t end, uint64_t seed);
