/* Part of exceptions.c: single-stepping (RFLAGS.TF) over instructions on MMIO. The CPU raises
 * #DB (a trap, DR6.BS set) after every instruction that started with TF=1 - after every
 * iteration of a REP string instruction, too (some CPUs group iterations between traps); an
 * emulated instruction must do the same. Each test runs on RAM first (the CPU's behaviour) and
 * then on MMIO: the traps must match, or - where the CPU grouped iterations - be valid. */
#pragma once

#include "lib/guest.h"

#define TF 0x100ull
#define DR6_BS (1ull << 14)
#define MAX_EVENTS 8

struct step_event {
    uint64_t rip, dr6, rcx;
};

struct step_run {
    struct step_event events[MAX_EVENTS];
    uint32_t count;
    uint64_t rax, rcx, rdi, memory;
    uint64_t target;      /* the memory operand */
    uint64_t start, stop; /* the stepped instruction and the one after it */
};

static struct step_event step_events[MAX_EVENTS];
static volatile uint32_t step_count;
static volatile uint64_t step_stop;

static void debug_handler(struct trap_frame* frame) {
    uint64_t dr6;
    __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
    /* DR6 bits are sticky: clear them so each trap shows only its own cause. */
    __asm__ volatile("mov %0, %%dr6" : : "r"(0xFFFF0FF0ull));
    if (step_count < MAX_EVENTS) {
        step_events[step_count].rip = frame->rip;
        step_events[step_count].dr6 = dr6;
        step_events[step_count].rcx = frame->rcx;
    }
    ++step_count;
    if (frame->rip == step_stop || step_count >= MAX_EVENTS)
        frame->rflags &= ~TF;
}

/* Sets TF with POPF (the first trap comes after the instruction following POPF), runs `text`
 * and stops stepping at the NOP after it. */
#define STEP_RUN(name, text)                                                                       \
    static void name(uint64_t target, struct step_run* run) {                                      \
        step_count = 0;                                                                            \
        __asm__ volatile("lea 2f(%%rip), %%rdx\n"                                                  \
                         "movq %%rdx, %[stop]\n"                                                   \
                         "lea 1f(%%rip), %%rdx\n"                                                  \
                         "pushfq\n"                                                                \
                         "orq $0x100, (%%rsp)\n"                                                   \
                         "popfq\n"                                                                 \
                         "1: " text "\n"                                                           \
                         "2: nop\n"                                                                \
                         : "+a"(run->rax), "+c"(run->rcx), "+D"(run->rdi),                         \
                           "=&d"(run->start), [stop] "=m"(step_stop)                               \
                         : "b"(target)                                                             \
                         : "memory", "cc");                                                        \
        run->stop = step_stop;                                                                     \
        run->count = step_count;                                                                   \
        for (uint32_t i = 0; i < MAX_EVENTS; ++i)                                                  \
            run->events[i] = step_events[i];                                                       \
    }
STEP_RUN(step_load, "movl (%%rbx), %%eax")
STEP_RUN(step_add, "addl %%ecx, (%%rbx)")
STEP_RUN(step_rep_stosb, "rep stosb")

static void step_on(void (*step)(uint64_t, struct step_run*), uint64_t target,
                    struct step_run* run) {
    volatile uint64_t* memory = (volatile uint64_t*)target;
    *memory = 0x1000;
    *run = (struct step_run){.rax = 0xAA, .rcx = 3, .rdi = target, .target = target};
    step(target, run);
    run->memory = *memory;
}

static bool same_steps(const struct step_run* ram, const struct step_run* mmio) {
    bool same = ram->count == mmio->count && ram->rax == mmio->rax && ram->rcx == mmio->rcx &&
                ram->rdi - ram->target == mmio->rdi - mmio->target && ram->memory == mmio->memory;
    for (uint32_t i = 0; i < ram->count && i < MAX_EVENTS; ++i) {
        same &= ram->events[i].rip == mmio->events[i].rip &&
                ram->events[i].rcx == mmio->events[i].rcx &&
                (ram->events[i].dr6 & DR6_BS) == (mmio->events[i].dr6 & DR6_BS);
    }
    return same;
}

static void print_steps(const char* label, const struct step_run* run) {
    print("  ");
    print(label);
    print_value("traps", run->count);
    for (uint32_t i = 0; i < run->count && i < MAX_EVENTS; ++i) {
        print(" [");
        print(run->events[i].rip == run->start  ? "at insn"
              : run->events[i].rip == run->stop ? "after insn"
                                                : "elsewhere");
        print_value("rcx", run->events[i].rcx);
        print((run->events[i].dr6 & DR6_BS) ? " BS]" : " no BS]");
    }
    print_value_hex("memory", run->memory);
    put_char('\n');
}

/* What the architecture allows: every trap has DR6.BS, traps come only at the instruction
 * (a REP interrupted between iterations, RCX lower each time) or after it, and the last one is
 * after it with the work done. */
static bool valid_steps(const struct step_run* run, bool repeated) {
    if (run->count < 1 || run->count > MAX_EVENTS)
        return false;
    uint64_t remaining = run->events[0].rcx + 1;
    for (uint32_t i = 0; i < run->count; ++i) {
        const struct step_event* event = &run->events[i];
        const bool last = i + 1 == run->count;
        if (!(event->dr6 & DR6_BS) || event->rip != (last ? run->stop : run->start))
            return false;
        if (!last && (!repeated || event->rcx >= remaining))
            return false;
        remaining = event->rcx;
    }
    return !repeated || run->events[run->count - 1].rcx == 0;
}

/* A REP the CPU stepped one iteration per trap (RCX counting down by one). CPUs may also
 * group iterations between traps (fast strings), which is then all the MMIO run must match. */
static bool steps_each_iteration(const struct step_run* run, uint64_t iterations) {
    if (run->count != iterations)
        return false;
    for (uint32_t i = 0; i < run->count; ++i) {
        if (run->events[i].rcx != iterations - 1 - i)
            return false;
    }
    return true;
}

static void single_step(struct checks* checks, const char* what,
                        void (*step)(uint64_t, struct step_run*), uint64_t ram_target,
                        uint64_t mmio_target, bool repeated) {
    static struct step_run ram, mmio;
    step_on(step, ram_target, &ram);
    step_on(step, mmio_target, &mmio);
    const bool exact = !repeated || steps_each_iteration(&ram, 3);
    check_begin(checks, "#DB single-step over ");
    print(what);
    print(exact ? " on MMIO traps like the CPU on RAM" : " on MMIO traps validly");
    print_value("traps", mmio.count);
    print_value("cpu_traps", ram.count);
    const bool results_match = ram.rax == mmio.rax && ram.rcx == mmio.rcx &&
                               ram.rdi - ram.target == mmio.rdi - mmio.target &&
                               ram.memory == mmio.memory;
    const bool ok = check_end(checks, valid_steps(&mmio, repeated) && results_match &&
                                          (!exact || same_steps(&ram, &mmio)));
    if (!ok) {
        print_steps("RAM: ", &ram);
        print_steps("MMIO:", &mmio);
    }
}

static void single_step_tests(struct checks* checks, uint64_t ram_target, uint64_t mmio_target) {
    set_vector_handler(1, debug_handler);
    single_step(checks, "a load", step_load, ram_target, mmio_target, false);
    single_step(checks, "a read-modify-write ADD", step_add, ram_target, mmio_target, false);
    single_step(checks, "REP STOSB (3 iterations)", step_rep_stosb, ram_target, mmio_target, true);
}
