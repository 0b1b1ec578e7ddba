/* xsave: XSAVE, XCR0 and AVX state under Halcyon, with 2 vCPUs that share one physical CPU so
 * that the hypervisor must switch their extended state (vmm/partition/fpu_state.hpp) and XCR0
 * (vmm/svm/svm_vcpu.cpp) every time the other one runs.
 *
 * The vCPUs take turns (a shared `turn` word; the waiting one spins on PAUSE, which Halcyon
 * intercepts, so it gives the physical CPU to the other). In its first turn each vCPU checks the
 * CPUID policy, XSETBV's #UD/#GP rules and XGETBV, then enables x87|SSE|AVX. Then, for ROUNDS
 * turns, it verifies that YMM0-15, the x87 control word, MXCSR and XCR0 are still what it left
 * there, and loads a new vCPU- and round-specific pattern. vCPU 1 also leaves every other turn
 * with AVX disabled in XCR0 (x87|SSE): vCPU 0 must still read its own XCR0 meanwhile, and vCPU 1
 * must find its YMM upper halves intact when it enables AVX again (disabled state is preserved,
 * as on hardware). Finally each vCPU checks its own XSAVE against CPUID leaf 0xD's layout.
 * Every check prints "xsaveN: what: ok|FAIL"; "xsaveN: PASS n/n" ends each vCPU's report. */
#include "lib/guest.h"

#define ROUNDS 300
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXSAVE (1ull << 18)
#define XCR0_X87 0x1ull
#define XCR0_SSE 0x2ull
#define XCR0_AVX 0x4ull
#define XCR0_FULL (XCR0_X87 | XCR0_SSE | XCR0_AVX)
#define VECTOR_UD 6
#define VECTOR_GP 13
#define XSETBV_LENGTH 3 /* 0F 01 D1 */
#define XGETBV_LENGTH 3 /* 0F 01 D0 */
#define VXORPS_LENGTH 4 /* C5 FC 57 C0 */

static volatile uint32_t turn; /* the vCPU whose turn it is */

struct ymm_image {
    uint64_t q[16][4]; /* YMMi = q[i][0] (bits 63:0) .. q[i][3] (bits 255:192) */
};

/* Guest code is built -mgeneral-regs-only: the compiler never touches vector or x87 registers
 * itself, so values loaded here stay in the registers across the C code in between. */
static void ymm_load(const struct ymm_image* image) {
    __asm__ volatile("vmovdqu 0x000(%0), %%ymm0\n\t"
                     "vmovdqu 0x020(%0), %%ymm1\n\t"
                     "vmovdqu 0x040(%0), %%ymm2\n\t"
                     "vmovdqu 0x060(%0), %%ymm3\n\t"
                     "vmovdqu 0x080(%0), %%ymm4\n\t"
                     "vmovdqu 0x0A0(%0), %%ymm5\n\t"
                     "vmovdqu 0x0C0(%0), %%ymm6\n\t"
                     "vmovdqu 0x0E0(%0), %%ymm7\n\t"
                     "vmovdqu 0x100(%0), %%ymm8\n\t"
                     "vmovdqu 0x120(%0), %%ymm9\n\t"
                     "vmovdqu 0x140(%0), %%ymm10\n\t"
                     "vmovdqu 0x160(%0), %%ymm11\n\t"
                     "vmovdqu 0x180(%0), %%ymm12\n\t"
                     "vmovdqu 0x1A0(%0), %%ymm13\n\t"
                     "vmovdqu 0x1C0(%0), %%ymm14\n\t"
                     "vmovdqu 0x1E0(%0), %%ymm15"
                     :
                     : "r"(image)
                     : "memory");
}

static void ymm_store(struct ymm_image* image) {
    __asm__ volatile("vmovdqu %%ymm0, 0x000(%0)\n\t"
                     "vmovdqu %%ymm1, 0x020(%0)\n\t"
                     "vmovdqu %%ymm2, 0x040(%0)\n\t"
                     "vmovdqu %%ymm3, 0x060(%0)\n\t"
                     "vmovdqu %%ymm4, 0x080(%0)\n\t"
                     "vmovdqu %%ymm5, 0x0A0(%0)\n\t"
                     "vmovdqu %%ymm6, 0x0C0(%0)\n\t"
                     "vmovdqu %%ymm7, 0x0E0(%0)\n\t"
                     "vmovdqu %%ymm8, 0x100(%0)\n\t"
                     "vmovdqu %%ymm9, 0x120(%0)\n\t"
                     "vmovdqu %%ymm10, 0x140(%0)\n\t"
                     "vmovdqu %%ymm11, 0x160(%0)\n\t"
                     "vmovdqu %%ymm12, 0x180(%0)\n\t"
                     "vmovdqu %%ymm13, 0x1A0(%0)\n\t"
                     "vmovdqu %%ymm14, 0x1C0(%0)\n\t"
                     "vmovdqu %%ymm15, 0x1E0(%0)"
                     :
                     : "r"(image)
                     : "memory");
}

static inline uint64_t xgetbv(uint32_t index) {
    uint32_t low, high;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(index));
    return ((uint64_t)high << 32) | low;
}

static inline void xsetbv(uint32_t index, uint64_t value) {
    __asm__ volatile("xsetbv"
                     :
                     : "c"(index), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                     : "memory");
}

static inline uint64_t read_cr4(void) {
    uint64_t value;
    __asm__ volatile("mov %%cr4, %0" : "=r"(value));
    return value;
}

static inline void write_cr4(uint64_t value) {
    __asm__ volatile("mov %0, %%cr4" : : "r"(value) : "memory");
}

static inline uint16_t read_fcw(void) {
    uint16_t value;
    __asm__ volatile("fnstcw %0" : "=m"(value));
    return value;
}

static inline void write_fcw(uint16_t value) {
    __asm__ volatile("fldcw %0" : : "m"(value));
}

static inline uint32_t read_mxcsr(void) {
    uint32_t value;
    __asm__ volatile("stmxcsr %0" : "=m"(value));
    return value;
}

static inline void write_mxcsr(uint32_t value) {
    __asm__ volatile("ldmxcsr %0" : : "m"(value));
}

/* A value no other vCPU, round, register or quarter shares, and never zero. */
static uint64_t pattern(uint64_t vcpu, uint64_t round, uint64_t reg, uint64_t quarter) {
    return ((vcpu + 1) << 56) | (0xA5ull << 48) | (round << 16) | (reg << 8) | (quarter + 1);
}

static void make_image(struct ymm_image* image, uint64_t vcpu, uint64_t round) {
    for (uint64_t reg = 0; reg < 16; ++reg)
        for (uint64_t quarter = 0; quarter < 4; ++quarter)
            image->q[reg][quarter] = pattern(vcpu, round, reg, quarter);
}

/* Distinct per vCPU and round, and valid: rounding control (bits 11:10 of the x87 control word,
 * bits 14:13 of MXCSR) and precision control change; exceptions stay masked.
 * - Bit 6 of the control word is reserved and reads as 1 whatever FLDCW wrote (an Intel Xeon and
 *   Bochs do; QEMU's TCG keeps what was written): every value has it set, or it would read back as
 *   a lost state.
 * - Precision control is double (10b) for vCPU 0 and single (00b) for vCPU 1, never extended
 *   (11b): the control word is never FNINIT's 0x037F, so the x87 state is never in its initial
 *   configuration and the guest's own XSAVE must set XSTATE_BV[0] (a CPU may clear it for an
 *   initial state, as Bochs does). */
static uint16_t fcw_for(uint64_t vcpu, uint64_t round) {
    const uint16_t precision = (vcpu & 1) == 0 ? 0x0200 : 0x0000;
    return (uint16_t)(0x007F | precision | ((round & 3) << 10));
}

static uint32_t mxcsr_for(uint64_t vcpu, uint64_t round) {
    return 0x1F80u | (uint32_t)((round & 3) << 13) | (uint32_t)((vcpu & 1) << 15);
}

static void wait_turn(uint32_t me) {
    while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != me)
        cpu_pause();
}

static void pass_turn(uint32_t to) {
    __atomic_store_n(&turn, to, __ATOMIC_RELEASE);
}

static int fault_of_xsetbv(uint32_t index, uint64_t value) {
    expect_fault(XSETBV_LENGTH);
    xsetbv(index, value);
    return fault_taken().vector;
}

/* Checks from the first turn: CPUID, the refused XSETBVs, XGETBV. Leaves XCR0 = x87|SSE|AVX. */
static void first_turn(struct checks* c) {
    uint32_t r[4];
    cpuid(1, 0, r);
    check_ok(c, "cpuid xsave offered", (r[2] >> 26) & 1);
    check_ok(c, "cpuid avx offered", (r[2] >> 28) & 1);
    check_ok(c, "cpuid osxsave clear while cr4.osxsave is clear", ((r[2] >> 27) & 1) == 0);
    cpuid(7, 0, r);
    check_begin(c, "cpuid avx2 (informational)");
    print_value("avx2", (r[1] >> 5) & 1);
    check_end(c, true);

    expect_fault(XGETBV_LENGTH);
    (void)xgetbv(0);
    const int xgetbv_fault = fault_taken().vector;
    check_begin(c, "xgetbv without cr4.osxsave raises #UD");
    print_value_signed("vector", xgetbv_fault);
    check_end(c, xgetbv_fault == VECTOR_UD);
    const int no_osxsave = fault_of_xsetbv(0, XCR0_FULL);
    check_begin(c, "xsetbv without cr4.osxsave raises #UD");
    print_value_signed("vector", no_osxsave);
    check_end(c, no_osxsave == VECTOR_UD);

    write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXSAVE);
    cpuid(1, 0, r);
    check_ok(c, "cpuid osxsave mirrors cr4.osxsave", (r[2] >> 27) & 1);
    const uint64_t reset_xcr0 = xgetbv(0);
    check_begin(c, "xgetbv after reset");
    print_value_hex("xcr0", reset_xcr0);
    check_end(c, reset_xcr0 == XCR0_X87);
    cpuid(0xD, 0, r);
    check_begin(c, "cpuid 0xd.0 for xcr0=x87");
    print_value_hex("eax", r[0]);
    print_value("ebx", r[1]);
    print_value("ecx", r[2]);
    check_end(c, (r[0] & XCR0_FULL) == XCR0_FULL && r[3] == 0 && r[1] == 576 && r[2] == 832);

    expect_fault(VXORPS_LENGTH);
    __asm__ volatile(".byte 0xc5, 0xfc, 0x57, 0xc0" ::: "memory"); /* vxorps ymm0, ymm0, ymm0 */
    const int avx_fault = fault_taken().vector;
    check_begin(c, "avx instruction with xcr0=x87 raises #UD");
    print_value_signed("vector", avx_fault);
    check_end(c, avx_fault == VECTOR_UD);

    static const struct {
        const char* what;
        uint32_t index;
        uint64_t value;
    } refused[] = {
        {"xsetbv xcr1 raises #GP", 1, XCR0_FULL},
        {"xsetbv without x87 raises #GP", 0, XCR0_SSE | XCR0_AVX},
        {"xsetbv avx without sse raises #GP", 0, XCR0_X87 | XCR0_AVX},
        {"xsetbv avx-512 raises #GP (not offered)", 0, 0xE7},
        {"xsetbv pkru raises #GP (not offered)", 0, 0x207},
        {"xsetbv bit 63 raises #GP", 0, (1ull << 63) | XCR0_FULL},
    };
    for (unsigned i = 0; i < sizeof(refused) / sizeof(refused[0]); ++i) {
        const int vector = fault_of_xsetbv(refused[i].index, refused[i].value);
        const uint64_t after = xgetbv(0);
        check_begin(c, refused[i].what);
        print_value_signed("vector", vector);
        print_value_hex("xcr0", after);
        check_end(c, vector == VECTOR_GP && after == XCR0_X87);
    }

    const int full = fault_of_xsetbv(0, XCR0_FULL);
    const uint64_t now = xgetbv(0);
    check_begin(c, "xsetbv x87|sse|avx");
    print_value_signed("vector", full);
    print_value_hex("xcr0", now);
    check_end(c, full == -1 && now == XCR0_FULL);
    cpuid(0xD, 0, r);
    check_begin(c, "cpuid 0xd.0 ebx follows xcr0");
    print_value("ebx", r[1]);
    check_end(c, r[1] == 832);
}

/* The guest's own XSAVE of its YMM registers against the layout CPUID 0xD reports. */
static void check_own_xsave(struct checks* c, uint32_t me, const struct ymm_image* expected) {
    static uint8_t area[2][1024] __attribute__((aligned(64)));
    uint8_t* mine = area[me];
    for (int i = 0; i < 1024; ++i)
        mine[i] = 0;
    __asm__ volatile("xsave64 (%0)" : : "r"(mine), "a"(XCR0_FULL), "d"(0) : "memory");
    uint32_t r[4];
    cpuid(0xD, 2, r);
    const uint32_t avx_offset = r[1];
    uint64_t xstate_bv;
    __builtin_memcpy(&xstate_bv, mine + 512, 8);
    bool same = avx_offset + 256 <= 1024;
    for (int reg = 0; same && reg < 16; ++reg) {
        uint64_t low[2], high[2];
        __builtin_memcpy(low, mine + 160 + 16 * reg, 16); /* XMM area of the legacy region */
        __builtin_memcpy(high, mine + avx_offset + 16 * reg, 16); /* YMM_Hi128 component */
        same = low[0] == expected->q[reg][0] && low[1] == expected->q[reg][1] &&
               high[0] == expected->q[reg][2] && high[1] == expected->q[reg][3];
    }
    check_begin(c, "own xsave matches the registers and cpuid 0xd layout");
    print_value_hex("xstate_bv", xstate_bv);
    print_value("avx_offset", avx_offset);
    check_end(c, same && (xstate_bv & XCR0_FULL) == XCR0_FULL);
}

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    if (vcpu_count != 2) {
        if (vcpu_index == 0)
            println("xsave: needs exactly 2 vCPUs: FAIL");
        return;
    }
    const uint32_t me = (uint32_t)vcpu_index;
    const uint32_t other = 1 - me;
    if (me == 0)
        install_idt(); /* before vCPU 1's first turn, which loads it */
    wait_turn(me);
    if (me == 1)
        load_idt();
    struct checks c = {me == 0 ? "xsave0" : "xsave1", 0, 0};
    first_turn(&c);

    static struct ymm_image images[2][2]; /* [vCPU][expected, read back] */
    struct ymm_image* expected = &images[me][0];
    struct ymm_image* seen = &images[me][1];
    make_image(expected, me, 0);
    ymm_load(expected);
    write_fcw(fcw_for(me, 0));
    write_mxcsr(mxcsr_for(me, 0));
    uint64_t left_xcr0 = XCR0_FULL;
    pass_turn(other);

    uint32_t bad_rounds = 0, first_bad = 0, bad_xcr0 = 0, avx_off_turns = 0;
    for (uint32_t round = 1; round <= ROUNDS; ++round) {
        wait_turn(me);
        /* What this vCPU left behind, after the other one ran on the same physical CPU. */
        const uint64_t xcr0 = xgetbv(0);
        bad_xcr0 += xcr0 != left_xcr0;
        if (xcr0 != XCR0_FULL)
            xsetbv(0, XCR0_FULL); /* AVX state was disabled, not lost */
        ymm_store(seen);
        bool ok = read_fcw() == fcw_for(me, round - 1) && read_mxcsr() == mxcsr_for(me, round - 1);
        for (int reg = 0; reg < 16; ++reg)
            for (int quarter = 0; quarter < 4; ++quarter)
                ok &= seen->q[reg][quarter] == expected->q[reg][quarter];
        if (!ok && bad_rounds++ == 0)
            first_bad = round;

        make_image(expected, me, round);
        ymm_load(expected);
        write_fcw(fcw_for(me, round));
        write_mxcsr(mxcsr_for(me, round));
        left_xcr0 = XCR0_FULL;
        if (me == 1 && (round & 1) != 0) {
            xsetbv(0, XCR0_X87 | XCR0_SSE); /* vCPU 0 must keep seeing its own XCR0 */
            left_xcr0 = XCR0_X87 | XCR0_SSE;
            ++avx_off_turns;
        }
        if (round < ROUNDS)
            pass_turn(other);
    }

    check_begin(&c, "ymm0-15, fcw and mxcsr survived every turn");
    print_value("turns", ROUNDS);
    print_value("bad", bad_rounds);
    print_value("first_bad", first_bad);
    check_end(&c, bad_rounds == 0);
    check_begin(&c, "xcr0 is per vcpu");
    print_value("turns_left_with_avx_off", avx_off_turns);
    print_value("bad", bad_xcr0);
    check_end(&c, bad_xcr0 == 0);
    if (left_xcr0 != XCR0_FULL)
        xsetbv(0, XCR0_FULL);
    check_own_xsave(&c, me, expected);
    check_summary(&c);
    pass_turn(other);
}
