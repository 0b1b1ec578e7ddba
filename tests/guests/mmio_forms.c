/* mmio_forms: the MMIO emulator against the CPU it runs on. Every instruction form the emulator
 * supports (mmio_forms_table.h) runs twice from the same registers, RFLAGS and memory bytes:
 * once on a RAM page, where the CPU executes it, and once on the MMIO scratch page at
 * 0xFEB00000 (a test device, `test_devices = yes`), where every access exits and Halcyon
 * emulates it. Registers, the arithmetic flags the instruction defines, DF and the memory
 * around the operand must come out the same. Several inputs per form: carry, overflow, sign and
 * zero edges at the operand's width, garbage in the register bits above it, flags all clear and
 * all set (ADC/SBB carry in; flags an instruction must leave alone), DF both ways, REP counts
 * 0, 1 and 4, unaligned string pointers, and MOVS between RAM and MMIO in both directions.
 * Then instructions the emulator refuses (CMPXCHG, XADD, an SSE load) must raise #UD in the
 * guest on MMIO, with nothing changed, while they work on RAM. */
#include "lib/guest.h"
#include "mmio_forms_table.h"

/* The scratch page (vmm/worker/testing/mmio_scratch_page.hpp); overridable only to run the
 * guest against a RAM page elsewhere, which validates the comparison itself. */
#ifndef MMIO_BASE
#define MMIO_BASE 0xFEB00000ull
#define MMIO_OPERAND_TEXT "0xfeb00800" /* MMIO_BASE + OPERAND, for the moffs forms */
#endif
#define OPERAND 2048     /* offset of the operand in the page */
#define REGION_BEFORE 32 /* compared memory: [OPERAND - 32, OPERAND + 72) */
#define REGION_SIZE 104
#define REGION_QWORDS (REGION_SIZE / 8)
#define MAX_REPORTED 12 /* failing runs shown in full */

uint8_t ram_page[4096] __attribute__((aligned(4096)));
static uint8_t aux_page[4096] __attribute__((aligned(4096)));

/* The registers a form sees and leaves; run_form() loads them, calls the form, stores them. */
struct regs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, rflags;
};
static const char* const register_names[] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",
                                             "r8",  "r9",  "r10", "r11", "r12", "r13", "r14"};
void run_form(struct regs* regs, void (*form)(void));
__asm__(".text\n"
        "run_form:\n"
        "    pushq %rbx; pushq %rbp; pushq %r12; pushq %r13; pushq %r14; pushq %r15\n"
        "    pushfq\n"
        "    movq %rdi, %r15\n"
        "    pushq %rsi\n"
        "    movq 0(%r15), %rax; movq 8(%r15), %rbx; movq 16(%r15), %rcx; movq 24(%r15), %rdx\n"
        "    movq 32(%r15), %rsi; movq 40(%r15), %rdi; movq 48(%r15), %rbp; movq 56(%r15), %r8\n"
        "    movq 64(%r15), %r9; movq 72(%r15), %r10; movq 80(%r15), %r11\n"
        "    movq 88(%r15), %r12; movq 96(%r15), %r13; movq 104(%r15), %r14\n"
        "    pushq 112(%r15); popfq\n"
        "    callq *(%rsp)\n"
        "    pushfq; popq 112(%r15)\n"
        "    movq %rax, 0(%r15); movq %rbx, 8(%r15); movq %rcx, 16(%r15); movq %rdx, 24(%r15)\n"
        "    movq %rsi, 32(%r15); movq %rdi, 40(%r15); movq %rbp, 48(%r15); movq %r8, 56(%r15)\n"
        "    movq %r9, 64(%r15); movq %r10, 72(%r15); movq %r11, 80(%r15)\n"
        "    movq %r12, 88(%r15); movq %r13, 96(%r15); movq %r14, 104(%r15)\n"
        "    addq $8, %rsp\n"
        "    popfq\n"
        "    popq %r15; popq %r14; popq %r13; popq %r12; popq %rbp; popq %rbx\n"
        "    ret\n");

/* Each form is a tiny function: the instruction, then RET. */
#define DEFINE_FORM(id, text, size, flags)                                                         \
    extern void form_##id(void);                                                                   \
    __asm__(".text\nform_" #id ":\n\t" text "\n\tret\n");
#define DEFINE_MOFFS_FORM(id, before, after, size)                                                 \
    extern void form_##id##_ram(void);                                                             \
    extern void form_##id##_mmio(void);                                                            \
    __asm__(".text\nform_" #id "_ram:\n\t" before "ram_page+2048" after "\n\tret\n"                \
            "form_" #id "_mmio:\n\t" before MMIO_OPERAND_TEXT after "\n\tret\n");
#define DEFINE_STRING_FORM(id, text, size, kind, repeated) DEFINE_FORM(id, text, size, 0)

MOV_FORMS(DEFINE_FORM)
EXTEND_FORMS(DEFINE_FORM)
XCHG_FORMS(DEFINE_FORM)
ARITHMETIC_FORMS(DEFINE_FORM)
BIT_FORMS(DEFINE_FORM)
BIT_OFFSET_FORMS(DEFINE_FORM)
MOFFS_FORMS(DEFINE_MOFFS_FORM)
STRING_FORMS(DEFINE_STRING_FORM)

enum kind { KIND_VALUE, KIND_BIT_OFFSET, KIND_MOVS, KIND_STOS, KIND_LODS };

struct form {
    const char* text;
    void (*ram)(void);
    void (*mmio)(void);
    uint8_t size;
    uint8_t kind;
    uint8_t repeated;
    uint16_t flags;
};

#define VALUE_ENTRY(id, text, size, flags) {text, form_##id, form_##id, size, KIND_VALUE, 0, flags},
#define BIT_OFFSET_ENTRY(id, text, size, flags)                                                    \
    {text, form_##id, form_##id, size, KIND_BIT_OFFSET, 0, flags},
#define MOFFS_ENTRY(id, before, after, size)                                                       \
    {before "moffs" after, form_##id##_ram, form_##id##_mmio, size, KIND_VALUE, 0, F_ALL},
#define STRING_ENTRY(id, text, size, kind, repeated)                                               \
    {text, form_##id, form_##id, size, KIND_MOVS + kind, repeated, F_ALL},

static const struct form mov_forms[] = {MOV_FORMS(VALUE_ENTRY)};
static const struct form extend_forms[] = {EXTEND_FORMS(VALUE_ENTRY)};
static const struct form xchg_forms[] = {XCHG_FORMS(VALUE_ENTRY)};
static const struct form moffs_forms[] = {MOFFS_FORMS(MOFFS_ENTRY)};
static const struct form arithmetic_forms[] = {ARITHMETIC_FORMS(VALUE_ENTRY)};
static const struct form bit_forms[] = {BIT_FORMS(VALUE_ENTRY) BIT_OFFSET_FORMS(BIT_OFFSET_ENTRY)};
static const struct form string_forms[] = {STRING_FORMS(STRING_ENTRY)};

#define GROUP(name, forms)                                                                         \
    { name, forms, sizeof(forms) / sizeof(forms[0]) }
static const struct group {
    const char* name;
    const struct form* forms;
    uint32_t count;
} groups[] = {
    GROUP("MOV/MOVNTI (r/m<->r, imm->m, SIB)", mov_forms),
    GROUP("MOVZX/MOVSX/MOVSXD", extend_forms),
    GROUP("XCHG", xchg_forms),
    GROUP("MOV moffs (64- and 32-bit addresses)", moffs_forms),
    GROUP("ADD/ADC/SUB/SBB/CMP/AND/OR/XOR/TEST/INC/DEC/NEG/NOT", arithmetic_forms),
    GROUP("BT/BTS/BTR/BTC (immediate and register offsets)", bit_forms),
    GROUP("MOVS/STOS/LODS (REP, DF, address size, RAM<->MMIO)", string_forms),
};

/* One run's starting point. String pointers are offsets into the page or the RAM aux page,
 * rebased for each run, so RAM and MMIO runs compare offsets. */
enum base { BASE_NONE, BASE_PAGE, BASE_AUX };
struct input {
    struct regs regs;
    uint8_t memory[REGION_SIZE];
    uint8_t aux[REGION_SIZE];
    uint8_t si_base, di_base;
};
struct outcome {
    struct regs regs;
    uint8_t memory[REGION_SIZE];
    uint8_t aux[REGION_SIZE];
};

static uint64_t mmio_shadow[REGION_QWORDS]; /* what the MMIO region holds now */
static bool shadow_valid;
static uint32_t runs, failed_runs, reported;

static uint64_t load64(const uint8_t* bytes) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; --i)
        value = value << 8 | bytes[i];
    return value;
}

static void store64(uint8_t* bytes, uint64_t value) {
    for (int i = 0; i < 8; ++i)
        bytes[i] = (uint8_t)(value >> (8 * i));
}

/* The region is written and read with plain 8-byte MOVs (on MMIO: the simplest emulated form,
 * checked by sanity_check() first). Unchanged MMIO qwords are not rewritten: every access is
 * an exit. */
static void fill(uint64_t region, const uint8_t* bytes, bool mmio) {
    volatile uint64_t* q = (volatile uint64_t*)region;
    for (int i = 0; i < REGION_QWORDS; ++i) {
        const uint64_t value = load64(bytes + 8 * i);
        if (!mmio || !shadow_valid || mmio_shadow[i] != value)
            q[i] = value;
        if (mmio)
            mmio_shadow[i] = value;
    }
    if (mmio)
        shadow_valid = true;
}

static void read_back(uint64_t region, uint8_t* bytes, bool mmio) {
    volatile uint64_t* q = (volatile uint64_t*)region;
    for (int i = 0; i < REGION_QWORDS; ++i) {
        const uint64_t value = q[i];
        store64(bytes + 8 * i, value);
        if (mmio)
            mmio_shadow[i] = value;
    }
}

static uint64_t base_address(uint8_t base, uint64_t page) {
    return base == BASE_PAGE ? page : base == BASE_AUX ? (uint64_t)aux_page : 0;
}

static void run_once(const struct form* form, const struct input* input, bool mmio,
                     struct outcome* out) {
    const uint64_t page = mmio ? MMIO_BASE : (uint64_t)ram_page;
    fill(page + OPERAND - REGION_BEFORE, input->memory, mmio);
    fill((uint64_t)aux_page + OPERAND - REGION_BEFORE, input->aux, false);
    out->regs = input->regs;
    out->regs.rbx = page + OPERAND;
    out->regs.rsi += base_address(input->si_base, page);
    out->regs.rdi += base_address(input->di_base, page);
    run_form(&out->regs, mmio ? form->mmio : form->ram);
    out->regs.rbx -= page;
    out->regs.rsi -= base_address(input->si_base, page);
    out->regs.rdi -= base_address(input->di_base, page);
    read_back(page + OPERAND - REGION_BEFORE, out->memory, mmio);
    read_back((uint64_t)aux_page + OPERAND - REGION_BEFORE, out->aux, false);
}

static void report_difference(const char* what, uint64_t ram, uint64_t mmio) {
    print("  ");
    print(what);
    print(" ram=");
    print_hex(ram);
    print(" mmio=");
    print_hex(mmio);
    put_char('\n');
}

static bool compare(const struct form* form, const struct input* input, const struct outcome* ram,
                    const struct outcome* mmio) {
    const uint64_t flags_mask = form->flags | 0x400; /* DF too */
    bool same = (ram->regs.rflags & flags_mask) == (mmio->regs.rflags & flags_mask);
    const uint64_t* r = &ram->regs.rax;
    const uint64_t* m = &mmio->regs.rax;
    for (int i = 0; i < 14; ++i)
        same &= r[i] == m[i];
    for (int i = 0; i < REGION_SIZE; ++i)
        same &= ram->memory[i] == mmio->memory[i] && ram->aux[i] == mmio->aux[i];
    ++runs;
    if (same)
        return true;
    ++failed_runs;
    if (reported++ >= MAX_REPORTED)
        return false;
    print("mmio_forms: DIFFERS: ");
    print(form->text);
    print_value_hex("rflags_in", input->regs.rflags);
    print_value_hex("rcx_in", input->regs.rcx);
    put_char('\n');
    if ((ram->regs.rflags & flags_mask) != (mmio->regs.rflags & flags_mask))
        report_difference("rflags", ram->regs.rflags & flags_mask, mmio->regs.rflags & flags_mask);
    for (int i = 0; i < 14; ++i) {
        if (r[i] != m[i])
            report_difference(register_names[i], r[i], m[i]);
    }
    for (int i = 0; i < REGION_SIZE; i += 8) {
        const uint64_t a = load64(ram->memory + i), b = load64(mmio->memory + i);
        if (a != b) {
            print("  page+");
            print_dec(OPERAND - REGION_BEFORE + i);
            report_difference(":", a, b);
        }
        const uint64_t c = load64(ram->aux + i), d = load64(mmio->aux + i);
        if (c != d) {
            print("  aux+");
            print_dec(OPERAND - REGION_BEFORE + i);
            report_difference(":", c, d);
        }
    }
    return false;
}

static bool run_both(const struct form* form, const struct input* input) {
    static struct outcome ram, mmio;
    run_once(form, input, false, &ram);
    run_once(form, input, true, &mmio);
    return compare(form, input, &ram, &mmio);
}

static uint64_t size_mask(unsigned size) {
    return size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* Memory bytes that differ everywhere (so a store to the wrong place shows) and registers with
 * `value` in their low `size` bytes under garbage that differs per register. */
static void prepare(struct input* input, unsigned size, uint64_t memory_value, uint64_t value,
                    uint64_t rflags, uint32_t seed) {
    for (int i = 0; i < REGION_SIZE; ++i) {
        input->memory[i] = (uint8_t)(0x5A + i * 0x3B + seed * 0x11);
        input->aux[i] = (uint8_t)(0xC3 + i * 0x25 + seed * 0x07);
    }
    for (unsigned i = 0; i < size; ++i)
        input->memory[REGION_BEFORE + i] = (uint8_t)(memory_value >> (8 * i));
    const uint64_t mask = size_mask(size);
    uint64_t* r = &input->regs.rax;
    for (int i = 0; i < 14; ++i) {
        const uint64_t garbage = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 3 + seed);
        r[i] = (garbage & ~mask) | (value & mask);
    }
    input->regs.r12 = (uint64_t)-2; /* index registers of the SIB forms */
    input->regs.r13 = 3;
    input->regs.rflags = rflags;
    input->si_base = input->di_base = BASE_NONE;
}

static const uint64_t flag_inputs[] = {0x002, 0x002 | F_ALL};

static bool run_value_form(const struct form* form) {
    const unsigned size = form->size;
    const uint64_t mask = size_mask(size), sign = 1ull << (8 * size - 1);
    const uint64_t pairs[][2] = {
        {sign - 1, 1}, {mask, 1},    {0, 0},
        {sign, 1},     {sign, sign}, {0x0123456789ABCDEFull & mask, 0xFEDCBA9876543210ull & mask},
    };
    static const int64_t bit_offsets[] = {0, 5, 31, 67, 100, -1, -70};
    bool ok = true;
    static struct input input;
    for (uint32_t f = 0; f < 2; ++f) {
        if (form->kind == KIND_BIT_OFFSET) {
            for (uint32_t i = 0; i < sizeof(bit_offsets) / sizeof(bit_offsets[0]); ++i) {
                prepare(&input, size, 0xA5C3F00F5AA55AA5ull, (uint64_t)bit_offsets[i],
                        flag_inputs[f], i);
                ok &= run_both(form, &input);
            }
            continue;
        }
        for (uint32_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); ++i) {
            prepare(&input, size, pairs[i][0], pairs[i][1], flag_inputs[f], i);
            ok &= run_both(form, &input);
        }
    }
    return ok;
}

static bool run_string_form(const struct form* form) {
    /* MOVS: MMIO -> RAM, RAM -> MMIO, MMIO -> MMIO; STOS writes and LODS reads the page. */
    static const uint8_t placements[][2] = {
        {BASE_PAGE, BASE_AUX}, {BASE_AUX, BASE_PAGE}, {BASE_PAGE, BASE_PAGE}};
    const uint32_t placement_count = form->kind == KIND_MOVS ? 3 : 1;
    static const uint64_t counts[] = {0, 1, 4};
    const uint32_t count_count = form->repeated ? 3 : 1;
    bool ok = true;
    static struct input input;
    for (uint32_t f = 0; f < 2; ++f) {
        for (uint32_t df = 0; df < 2; ++df) {
            for (uint32_t p = 0; p < placement_count; ++p) {
                for (uint32_t c = 0; c < count_count; ++c) {
                    prepare(&input, 8, 0x1122334455667788ull, 0x8877665544332211ull,
                            flag_inputs[f] | (df ? 0x400 : 0), p * 3 + c);
                    /* Unaligned starts; going down, start high enough for 4 elements. */
                    const uint64_t start = OPERAND + 1 + (df ? 3 * form->size : 0);
                    const uint8_t si = form->kind == KIND_STOS ? BASE_AUX : placements[p][0];
                    const uint8_t di = form->kind == KIND_LODS ? BASE_AUX : placements[p][1];
                    input.si_base = si;
                    input.di_base = di;
                    input.regs.rsi = start;
                    /* MMIO -> MMIO copies to a separate part of the region. */
                    input.regs.rdi = start + (si == BASE_PAGE && di == BASE_PAGE ? 32 : 0);
                    if (form->repeated)
                        input.regs.rcx = counts[c];
                    ok &= run_both(form, &input);
                }
            }
        }
    }
    return ok;
}

static struct checks checks = {"mmio_forms", 0, 0};

/* The scratch page must hold what is written to it, at every width; without the test device
 * it is unbacked bus space (reads all ones, writes dropped) and nothing else can work. */
static bool sanity_check(void) {
    volatile uint64_t* q = (volatile uint64_t*)(MMIO_BASE + 8);
    volatile uint8_t* b = (volatile uint8_t*)(MMIO_BASE + 8);
    *q = 0x1122334455667788ull;
    const uint64_t back = *q;
    const uint8_t byte = b[1];
    b[2] = 0xEE;
    const uint64_t merged = *q;
    check_begin(&checks, "scratch page at 0xfeb00000 holds data (test_devices = yes)");
    print_value_hex("qword", back);
    print_value_hex("byte1", byte);
    print_value_hex("after_byte_store", merged);
    return check_end(&checks, back == 0x1122334455667788ull && byte == 0x77 &&
                                  merged == 0x1122334455EE7788ull);
}

#include "mmio_forms_refused.h"

void guest_main(uint64_t memory_size, uint64_t vcpu_index, uint64_t vcpu_count) {
    install_idt();
    if (!sanity_check()) {
        check_summary(&checks);
        return;
    }
    uint32_t forms = 0;
    for (uint32_t g = 0; g < sizeof(groups) / sizeof(groups[0]); ++g) {
        uint32_t passed = 0;
        const uint32_t failed_before = failed_runs;
        for (uint32_t i = 0; i < groups[g].count; ++i) {
            const struct form* form = &groups[g].forms[i];
            const bool ok = form->kind >= KIND_MOVS ? run_string_form(form) : run_value_form(form);
            passed += ok;
            ++checks.total;
            checks.passed += ok;
        }
        forms += groups[g].count;
        print("mmio_forms: ");
        print(groups[g].name);
        print(": ");
        print_dec(passed);
        put_char('/');
        print_dec(groups[g].count);
        print(" forms agree");
        print_value("differing_runs", failed_runs - failed_before);
        println(passed == groups[g].count ? ": ok" : ": FAIL");
    }
    print("mmio_forms: compared ");
    print_dec(forms);
    print(" forms in ");
    print_dec(runs);
    print(" runs on RAM and MMIO, ");
    print_dec(failed_runs);
    println(" differ");
    refused_instructions(&checks);
    check_summary(&checks);
}
