/* exceptions: exceptions that Halcyon must inject on behalf of instructions it emulates, exactly
 * as the CPU would have raised them. Every test runs twice through the guest's own page tables:
 * on the MMIO scratch page (test_devices = yes), where the instruction exits and is emulated,
 * and on a RAM page with the same layout, where the CPU itself runs it (the control).
 *   - #PF with the right error code and CR2 when a REP string instruction on MMIO walks into a
 *     non-present page (reading, writing, downwards with DF=1) or a read-only page, with
 *     RCX/RSI/RDI showing the iterations done and their stores in place;
 *   - #PF for a MOVS from MMIO to a non-present destination, nothing moved;
 *   - #DB single-step (RFLAGS.TF) over an emulated load, read-modify-write and REP STOS: the
 *     same traps (RIP, RCX, DR6.BS) as the CPU on RAM.
 * #GP for refused MSRs is msr.c's, #UD for refused MMIO instructions mmio_forms.c's. */
#include "exceptions_db.h"
#include "lib/guest.h"

#ifndef MMIO_BASE /* overridable only to run the guest with RAM in its place, as a reference */
#define MMIO_BASE 0xFEB00000ull
#endif
/* A 2 MiB window at 1 GiB (beyond the guest's RAM, so nothing else lives there) mapped with
 * 4 KiB pages: pages 0-3 are the MMIO layout, pages 4-7 the same layout over RAM. */
#define WINDOW 0x40000000ull
#define PAGE 4096ull
#define P 1ull
#define RW 2ull

static struct checks checks = {"exceptions", 0, 0};
static uint64_t page_table[512] __attribute__((aligned(4096)));
static uint8_t ram_page[4096] __attribute__((aligned(4096)));
static uint8_t buffer[64];

/* Pages of a layout: 0 present RW, 1 not present, 2 present RW, 3 present read-only, with 2
 * and 3 the same physical page. */
static void map_window(void) {
    const uint64_t layouts[2] = {MMIO_BASE, (uint64_t)ram_page};
    for (int l = 0; l < 2; ++l) {
        page_table[4 * l + 0] = layouts[l] | P | RW;
        page_table[4 * l + 1] = 0;
        page_table[4 * l + 2] = layouts[l] | P | RW;
        page_table[4 * l + 3] = layouts[l] | P;
    }
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    const uint64_t mask = 0x000FFFFFFFFFF000ull;
    uint64_t* pml4 = (uint64_t*)(cr3 & mask);
    uint64_t* pdpt = (uint64_t*)(pml4[(WINDOW >> 39) & 511] & mask);
    uint64_t* pd = (uint64_t*)(pdpt[(WINDOW >> 30) & 511] & mask);
    pd[(WINDOW >> 21) & 511] = (uint64_t)page_table | P | RW;
    __asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory"); /* flush the TLB */
}

struct string_run {
    struct fault_result fault;
    uint64_t rsi, rdi, rcx, rax;
    uint64_t address; /* of the string instruction */
};

#define STRING_RUN(name, length, text, setup, teardown)                                            \
    static struct string_run name(uint64_t rsi, uint64_t rdi, uint64_t rcx, uint64_t rax) {        \
        struct string_run run = {.rsi = rsi, .rdi = rdi, .rcx = rcx, .rax = rax};                  \
        expect_fault(length);                                                                      \
        __asm__ volatile("lea 1f(%%rip), %4\n" setup "\n1: " text "\n" teardown                    \
                         : "+S"(run.rsi), "+D"(run.rdi), "+c"(run.rcx), "+a"(run.rax),             \
                           "=&d"(run.address)                                                      \
                         :                                                                         \
                         : "memory", "cc");                                                        \
        run.fault = fault_taken();                                                                 \
        return run;                                                                                \
    }
STRING_RUN(rep_movsb, 2, "rep movsb", "", "")
STRING_RUN(rep_stosb, 2, "rep stosb", "", "")
STRING_RUN(rep_stosq, 3, "rep stosq", "", "")
STRING_RUN(rep_lodsb_down, 2, "rep lodsb", "std", "cld")
STRING_RUN(movsb_once, 1, "movsb", "", "")

static bool check_fault(const char* what, const char* where, const struct string_run* run,
                        uint32_t error_code, uint64_t cr2, uint64_t rcx, uint64_t rsi, uint64_t rdi,
                        bool data_ok) {
    check_begin(&checks, what);
    print(where);
    print_value_signed("vec", run->fault.vector);
    print_value_hex("err", run->fault.error_code);
    print_value_hex("cr2", run->fault.cr2);
    print_value("rcx", run->rcx);
    print_value_hex("rsi", run->rsi);
    print_value_hex("rdi", run->rdi);
    if (!data_ok)
        print(" (bad data)");
    const bool at_instruction = run->fault.rip == run->address;
    if (!at_instruction)
        print(" (RIP not at the instruction)");
    return check_end(&checks, run->fault.vector == 14 && run->fault.error_code == error_code &&
                                  run->fault.cr2 == cr2 && run->rcx == rcx && run->rsi == rsi &&
                                  run->rdi == rdi && at_instruction && data_ok);
}

static void string_faults(uint64_t base, const char* where) {
    volatile uint8_t* page0 = (volatile uint8_t*)base;
    volatile uint8_t* page2 = (volatile uint8_t*)(base + 2 * PAGE);

    /* Reading off the end of page 0 into the non-present page 1: 8 bytes copied, then #PF. */
    for (int i = 0; i < 8; ++i)
        page0[PAGE - 8 + i] = (uint8_t)(0xA0 + i);
    for (int i = 0; i < 16; ++i)
        buffer[i] = 0;
    struct string_run run = rep_movsb(base + PAGE - 8, (uint64_t)buffer, 16, 0);
    bool data_ok = true;
    for (int i = 0; i < 8; ++i)
        data_ok &= buffer[i] == 0xA0 + i && buffer[8 + i] == 0;
    check_fault("REP MOVSB reading into a non-present page, #PF 0x0", where, &run, 0, base + PAGE,
                8, base + PAGE, (uint64_t)buffer + 8, data_ok);

    /* Writing off the end of page 0: 5 bytes stored, then #PF with W. */
    for (int i = 0; i < 8; ++i)
        page0[PAGE - 8 + i] = 0;
    run = rep_stosb(0, base + PAGE - 5, 10, 0xAB);
    data_ok = page0[PAGE - 6] == 0;
    for (int i = 0; i < 5; ++i)
        data_ok &= page0[PAGE - 5 + i] == 0xAB;
    check_fault("REP STOSB writing into a non-present page, #PF 0x2", where, &run, 2, base + PAGE,
                5, 0, base + PAGE, data_ok);

    /* Writing from page 2 into the read-only page 3: 2 qwords stored, then #PF with P|W. */
    volatile uint64_t* page2_end = (volatile uint64_t*)(base + 3 * PAGE - 16);
    volatile uint64_t* page3_start = (volatile uint64_t*)(base + 3 * PAGE);
    page2_end[0] = page2_end[1] = 0;
    const uint64_t page3_before = *page3_start; /* the same physical page, offset 0 */
    run = rep_stosq(0, base + 3 * PAGE - 16, 4, 0x0123456789ABCDEFull);
    data_ok = page2_end[0] == 0x0123456789ABCDEFull && page2_end[1] == 0x0123456789ABCDEFull &&
              *page3_start == page3_before;
    check_fault("REP STOSQ writing into a read-only page, #PF 0x3", where, &run, 3, base + 3 * PAGE,
                2, 0, base + 3 * PAGE, data_ok);

    /* Reading downwards (DF=1) from page 2 into page 1: 4 bytes loaded, then #PF. */
    for (int i = 0; i < 4; ++i)
        page2[i] = (uint8_t)(0x40 + i);
    run = rep_lodsb_down(base + 2 * PAGE + 3, 0, 8, 0);
    check_fault("REP LODSB (DF=1) reading into a non-present page, #PF 0x0", where, &run, 0,
                base + 2 * PAGE - 1, 4, base + 2 * PAGE - 1, 0, (run.rax & 0xFF) == 0x40);

    /* A single MOVSB from the MMIO/RAM page to the non-present page: nothing moves. */
    run = movsb_once(base, base + PAGE + 16, 0, 0);
    check_fault("MOVSB to a non-present page, #PF 0x2, nothing moved", where, &run, 2,
                base + PAGE + 16, 0, base, base + PAGE + 16, true);
}

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    install_idt();
    volatile uint64_t* scratch = (volatile uint64_t*)MMIO_BASE;
    *scratch = 0x5555AAAA5555AAAAull;
    if (!check_ok(&checks, "scratch page at 0xfeb00000 holds data (test_devices = yes)",
                  *scratch == 0x5555AAAA5555AAAAull)) {
        check_summary(&checks);
        return;
    }
    map_window();
    string_faults(WINDOW + 4 * PAGE, " on RAM");
    string_faults(WINDOW, " on MMIO");
    single_step_tests(&checks, (uint64_t)ram_page, MMIO_BASE);
    check_summary(&checks);
}
