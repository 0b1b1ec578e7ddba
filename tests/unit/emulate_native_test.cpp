// The emulator against the real CPU: every supported instruction form runs natively on the host
// (in an executable page, registers and RFLAGS loaded from a struct by a small assembly
// trampoline) and through the emulator on a model guest that sees the same bytes at the same
// addresses, with the data pages randomly split between guest RAM and MMIO. Registers, RFLAGS
// and memory must come out identical.
//
// Architecturally undefined flags: the emulator produces what Intel CPUs do - AND/OR/XOR/TEST
// clear AF; BT/BTS/BTR/BTC leave OF/SF/AF/PF unchanged (ZF is documented as unchanged). On an
// Intel host they are compared like every other flag; on other vendors they are masked.
// Set HALCYON_EMULATE_NATIVE_CASES to run more (or fewer) cases per form.
#include "tests/unit/emulate_native_forms.hpp"
#include "tests/unit/emulate_test_support.hpp"

#include <asm/prctl.h>
#include <cpuid.h>
#include <cstdio>
#include <cstdlib>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

using namespace halcyon;
using namespace halcyon::emulate;
using namespace halcyon::emulate::testing;

// ---- Native execution --------------------------------------------------------------------------

struct NativeState {
    uint64_t gpr[16]; // RSP (index 4) is neither loaded nor stored
    uint64_t rflags;
};
static_assert(offsetof(NativeState, rflags) == 128);

extern "C" void halcyon_emulate_native_run(NativeState* state);
extern "C" char halcyon_emulate_native_return[];
extern "C" uint64_t halcyon_emulate_native_target;

// Saves the callee-saved registers and the state pointer, loads every GPR but RSP and RFLAGS,
// jumps to the instruction, which jumps back to ..._return to store them. The instruction must
// not touch RSP; CLD restores the ABI's DF=0 before any compiled code runs again.
asm(R"(
    .text
    .globl halcyon_emulate_native_run
halcyon_emulate_native_run:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi
    pushq 128(%rdi)
    popfq
    mov 0(%rdi), %rax
    mov 8(%rdi), %rcx
    mov 16(%rdi), %rdx
    mov 24(%rdi), %rbx
    mov 40(%rdi), %rbp
    mov 48(%rdi), %rsi
    mov 64(%rdi), %r8
    mov 72(%rdi), %r9
    mov 80(%rdi), %r10
    mov 88(%rdi), %r11
    mov 96(%rdi), %r12
    mov 104(%rdi), %r13
    mov 112(%rdi), %r14
    mov 120(%rdi), %r15
    mov 56(%rdi), %rdi
    jmp *halcyon_emulate_native_target(%rip)
    .globl halcyon_emulate_native_return
halcyon_emulate_native_return:
    pushfq
    push %rdi
    mov 16(%rsp), %rdi
    mov %rax, 0(%rdi)
    mov %rcx, 8(%rdi)
    mov %rdx, 16(%rdi)
    mov %rbx, 24(%rdi)
    mov %rbp, 40(%rdi)
    mov %rsi, 48(%rdi)
    mov %r8, 64(%rdi)
    mov %r9, 72(%rdi)
    mov %r10, 80(%rdi)
    mov %r11, 88(%rdi)
    mov %r12, 96(%rdi)
    mov %r13, 104(%rdi)
    mov %r14, 112(%rdi)
    mov %r15, 120(%rdi)
    popq 56(%rdi)
    popq 128(%rdi)
    cld
    add $8, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
    .data
    .globl halcyon_emulate_native_target
    .p2align 3
halcyon_emulate_native_target:
    .quad 0
    .text
)");

constexpr size_t kPage = 4096;
constexpr size_t kDataPages = 4;

uint64_t arch_base(int code) {
    unsigned long value = 0;
    syscall(SYS_arch_prctl, code, &value);
    return value;
}

class NativeComparison : public ::testing::Test {
protected:
    void SetUp() override {
        // Below 2 GiB so that 32-bit address-size forms can reach the data natively.
        void* area = mmap(nullptr, (1 + kDataPages) * kPage, PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
        ASSERT_NE(area, MAP_FAILED);
        code_ = static_cast<uint8_t*>(area);
        data_ = code_ + kPage;
        guest_.map_identity(code_, (1 + kDataPages) * kPage);
        guest_.add_ram(code_, kPage);
        guest_.freeze_ram();
        fs_base_ = arch_base(ARCH_GET_FS);
        gs_base_ = arch_base(ARCH_GET_GS);
        if (const char* cases = getenv("HALCYON_EMULATE_NATIVE_CASES"))
            cases_per_form_ = static_cast<unsigned>(atoi(cases));
    }
    void TearDown() override { munmap(code_, (1 + kDataPages) * kPage); }

    uint64_t edge_or_random() {
        static constexpr uint64_t kEdges[] = {0,
                                              1,
                                              ~0ULL,
                                              0x7F,
                                              0x80,
                                              0xFF,
                                              0x7FFF,
                                              0x8000,
                                              0xFFFF,
                                              0x7FFF'FFFF,
                                              0x8000'0000,
                                              0xFFFF'FFFF,
                                              0x7FFF'FFFF'FFFF'FFFF,
                                              0x8000'0000'0000'0000,
                                              0x0F,
                                              0x10,
                                              0x7F7F'7F7F'7F7F'7F7F,
                                              0x8080'8080'8080'8080,
                                              0xFFFF'FFFF'FFFF'FFFE};
        if (rng_() % 3 == 0)
            return kEdges[rng_() % std::size(kEdges)];
        return rng_();
    }
    uint64_t data_address(uint64_t low, uint64_t high) {
        return reinterpret_cast<uint64_t>(data_) + low + rng_() % (high - low);
    }

    void setup_registers(const Form& form, NativeState& state, std::vector<uint8_t>& bytes);
    void run_case(const Form& form);

    std::mt19937_64 rng_{0x4841'4C43'594F'4EULL};
    IdentityGuest guest_;
    uint8_t* code_ = nullptr;
    uint8_t* data_ = nullptr;
    uint64_t fs_base_ = 0;
    uint64_t gs_base_ = 0;
    unsigned cases_per_form_ = 100;
    uint64_t cases_run_ = 0;
    unsigned failures_ = 0;
};

bool host_is_intel() {
    unsigned eax, ebx, ecx, edx;
    __get_cpuid(0, &eax, &ebx, &ecx, &edx);
    return ebx == 0x756E'6547 && edx == 0x4965'6E69 && ecx == 0x6C65'746E; // "GenuineIntel"
}

// The flags a form leaves architecturally undefined.
uint64_t undefined_flags(const char* text) {
    const std::string s(text);
    const std::string mnemonic = s.substr(s.rfind("lock ", 0) == 0 ? 5 : 0);
    for (const char* logic : {"and ", "or ", "xor ", "test "})
        if (mnemonic.rfind(logic, 0) == 0)
            return rflags::kAdjust;
    for (const char* bit : {"bt ", "bts ", "btr ", "btc "})
        if (mnemonic.rfind(bit, 0) == 0)
            return rflags::kOverflow | rflags::kSign | rflags::kAdjust | rflags::kParity;
    return 0;
}

unsigned bit_operand_size(const char* text) {
    const std::string s(text);
    if (s.find("qword") != std::string::npos)
        return 8;
    if (s.find("dword") != std::string::npos)
        return 4;
    return 2;
}

void NativeComparison::setup_registers(const Form& form, NativeState& state,
                                       std::vector<uint8_t>& bytes) {
    const uint64_t garbage_high = rng_() << 32;
    switch (form.setup) {
    case Setup::mem:
        state.gpr[kRbx] = data_address(0x100, 0x3E00);
        state.gpr[kR8] = rng_() % 16;
        break;
    case Setup::mem32:
        state.gpr[kRbx] = data_address(0x100, 0x3E00) | garbage_high;
        state.gpr[kR8] = (rng_() % 16) | (rng_() << 32);
        break;
    case Setup::moffs: {
        const uint64_t target = data_address(0, kDataPages * kPage - 8);
        memcpy(bytes.data() + bytes.size() - 8, &target, 8);
        break;
    }
    case Setup::fs:
        state.gpr[kRbx] = data_address(0x100, 0x3E00) - fs_base_;
        break;
    case Setup::gs:
        state.gpr[kRbx] = data_address(0x100, 0x3E00) - gs_base_;
        break;
    case Setup::bits: {
        state.gpr[kRbx] = data_address(0x1F80, 0x2080);
        const unsigned size = bit_operand_size(form.text);
        // A signed bit offset reaching +-0x1E00 bytes; what lies above the operand size is
        // garbage the CPU must ignore.
        int64_t offset = static_cast<int64_t>(rng_() % (0x1E00 * 16)) - 0x1E00 * 8;
        if (size == 2)
            offset = static_cast<int16_t>(rng_());
        const uint64_t low = size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
        state.gpr[kRax] = (static_cast<uint64_t>(offset) & low) | (size == 8 ? 0 : rng_() & ~low);
        break;
    }
    case Setup::string:
    case Setup::string32:
    case Setup::stringfs:
        state.gpr[kRsi] = data_address(0x300, 0x3D00);
        state.gpr[kRdi] = data_address(0x300, 0x3D00);
        state.gpr[kRcx] = rng_() % 8 == 0 ? 0 : rng_() % 25;
        if (form.setup == Setup::string32) {
            state.gpr[kRsi] |= garbage_high;
            state.gpr[kRdi] |= rng_() << 32;
            state.gpr[kRcx] |= rng_() << 32;
        }
        if (form.setup == Setup::stringfs)
            state.gpr[kRsi] -= fs_base_;
        break;
    case Setup::rip:
    case Setup::reg:
        break;
    }
}

std::string describe(const NativeState& state) {
    std::string text;
    char line[64];
    for (int i = 0; i < 16; ++i) {
        snprintf(line, sizeof line, " r%d=%016llx", i,
                 static_cast<unsigned long long>(state.gpr[i]));
        text += line;
    }
    snprintf(line, sizeof line, " rflags=%llx", static_cast<unsigned long long>(state.rflags));
    return text + line;
}

void NativeComparison::run_case(const Form& form) {
    NativeState initial{};
    for (uint64_t& value : initial.gpr)
        value = edge_or_random();
    initial.gpr[kRsp] = 0;
    initial.rflags = 0x2 | (rng_() & rflags::kArithmetic) | (rng_() % 2 ? rflags::kDirection : 0);
    std::vector<uint8_t> bytes = form.bytes;
    setup_registers(form, initial, bytes);

    // The code page: the instruction, then `jmp *0(%rip)` back to the trampoline.
    memset(code_, 0xCC, kPage);
    memcpy(code_, bytes.data(), bytes.size());
    const uint8_t jump[] = {0xFF, 0x25, 0, 0, 0, 0};
    memcpy(code_ + bytes.size(), jump, sizeof jump);
    const uint64_t back = reinterpret_cast<uint64_t>(halcyon_emulate_native_return);
    memcpy(code_ + bytes.size() + sizeof jump, &back, 8);
    std::vector<uint8_t> initial_data(kDataPages * kPage);
    for (size_t i = 0; i < initial_data.size(); i += 8) {
        const uint64_t value = edge_or_random();
        memcpy(&initial_data[i], &value, 8);
    }

    memcpy(data_, initial_data.data(), initial_data.size());
    NativeState native = initial;
    halcyon_emulate_native_target = reinterpret_cast<uint64_t>(code_);
    halcyon_emulate_native_run(&native);
    const std::vector<uint8_t> native_data(data_, data_ + initial_data.size());

    // The emulator, on the same bytes; each data page is RAM or MMIO at random.
    memcpy(data_, initial_data.data(), initial_data.size());
    guest_.clear_data_regions();
    for (size_t page = 0; page < kDataPages; ++page) {
        if (rng_() % 2)
            guest_.add_mmio(data_ + page * kPage, kPage);
        else
            guest_.add_ram(data_ + page * kPage, kPage);
    }
    GuestRegisters regs = guest_.long_mode_registers();
    memcpy(regs.gpr, initial.gpr, sizeof regs.gpr);
    regs.rflags = initial.rflags;
    regs.rip = reinterpret_cast<uint64_t>(code_);
    regs.segment[kFs].base = fs_base_;
    regs.segment[kGs].base = gs_base_;
    EmulatorOptions options;
    options.max_rep_iterations = 1 + static_cast<uint32_t>(rng_() % 10);
    for (int round = 0;; ++round) {
        auto result = emulate_instruction(regs, guest_, guest_, options);
        ASSERT_FALSE(result.is_error()) << form.text << ": " << result.error().message();
        const EmulationOutcome outcome = result.release_value();
        ASSERT_EQ(outcome.status, EmulationStatus::completed)
            << form.text << ": " << (outcome.reason ? outcome.reason : "") << describe(initial);
        if (!outcome.rep_incomplete)
            break;
        ASSERT_EQ(regs.rip, reinterpret_cast<uint64_t>(code_)) << form.text;
        ASSERT_LT(round, 100) << form.text;
    }
    ++cases_run_;

    std::string mismatch;
    for (int i = 0; i < 16; ++i) {
        if (i != kRsp && regs.gpr[i] != native.gpr[i]) {
            char line[96];
            snprintf(line, sizeof line, " gpr%d emulated %016llx native %016llx", i,
                     static_cast<unsigned long long>(regs.gpr[i]),
                     static_cast<unsigned long long>(native.gpr[i]));
            mismatch += line;
        }
    }
    static const bool intel = host_is_intel();
    const uint64_t compared =
        (rflags::kArithmetic | rflags::kDirection) & ~(intel ? 0 : undefined_flags(form.text));
    if ((regs.rflags & compared) != (native.rflags & compared)) {
        char line[96];
        snprintf(line, sizeof line, " rflags emulated %llx native %llx",
                 static_cast<unsigned long long>(regs.rflags & compared),
                 static_cast<unsigned long long>(native.rflags & compared));
        mismatch += line;
    }
    if (regs.rip != reinterpret_cast<uint64_t>(code_) + bytes.size())
        mismatch += " rip";
    for (size_t i = 0; i < native_data.size(); ++i) {
        if (data_[i] != native_data[i]) {
            char line[96];
            snprintf(line, sizeof line, " memory +%#zx emulated %02x native %02x", i, data_[i],
                     native_data[i]);
            mismatch += line;
            break;
        }
    }
    if (!mismatch.empty()) {
        ++failures_;
        ADD_FAILURE() << form.text << ":" << mismatch << "\n  initial:" << describe(initial);
    }
}

TEST_F(NativeComparison, EveryFormMatchesTheHostCpu) {
    for (const Form& form : kForms) {
        for (unsigned i = 0; i < cases_per_form_ && failures_ < 40; ++i) {
            run_case(form);
            if (HasFatalFailure())
                return;
        }
    }
    // The random page split must have exercised both paths.
    EXPECT_GT(guest_.mmio_accesses, cases_run_ / 4);
    printf("native comparison: %zu forms, %llu cases, %llu MMIO accesses\n", std::size(kForms),
           static_cast<unsigned long long>(cases_run_),
           static_cast<unsigned long long>(guest_.mmio_accesses));
}

} // namespace
