// The emulator's guest-facing rules on a model guest: what reaches the device bus, the faults it
// injects instead of guessing (refused instructions, page faults with their error codes,
// segment and canonical violations), fetches across pages, REP progress on a fault, and the
// other CPU modes. (emulate_native_test.cpp compares results against the host CPU.)
#include "tests/unit/emulate_test_support.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <vector>

namespace {

using namespace halcyon;
using namespace halcyon::emulate;
using halcyon::emulate::testing::IdentityGuest;
using Access = IdentityGuest::MmioAccess;

constexpr size_t kPage = 4096;

class EmulatorModel : public ::testing::Test {
protected:
    // Page layout (all below 4 GiB, for the 32-bit modes):
    //   0 code (RAM)         1 not mapped          2 RAM data      3, 4 MMIO
    //   5 read-only RAM      6 supervisor-only RAM  7 not mapped
    void SetUp() override {
        void* area = mmap(nullptr, 8 * kPage, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
        ASSERT_NE(area, MAP_FAILED);
        base_ = static_cast<uint8_t*>(area);
        guest_.map_identity(page(0), kPage);
        guest_.map_identity(page(2), 3 * kPage);
        guest_.map_identity(page(5), kPage, IdentityGuest::kUser);
        guest_.map_identity(page(6), kPage, IdentityGuest::kWritable);
        guest_.add_ram(page(0), kPage);
        guest_.add_ram(page(2), kPage);
        guest_.add_mmio(page(3), 2 * kPage);
        guest_.add_ram(page(5), 2 * kPage);
        guest_.keep_log = true;
        regs_ = guest_.long_mode_registers();
        regs_.rip = address(page(0));
    }
    void TearDown() override { munmap(base_, 8 * kPage); }

    uint8_t* page(unsigned index) { return base_ + index * kPage; }
    static uint64_t address(const void* pointer) { return reinterpret_cast<uint64_t>(pointer); }

    // Places `bytes` at regs_.rip and emulates them.
    EmulationOutcome run(std::vector<uint8_t> bytes, const EmulatorOptions& options = {}) {
        memcpy(reinterpret_cast<void*>(regs_.rip), bytes.data(), bytes.size());
        return run_in_place(options);
    }
    EmulationOutcome run_in_place(const EmulatorOptions& options = {}) {
        auto result = emulate_instruction(regs_, guest_, guest_, options);
        EXPECT_FALSE(result.is_error()) << (result.is_error() ? result.error().message() : "");
        return result.is_error() ? EmulationOutcome{} : result.release_value();
    }
    void expect_exception(const EmulationOutcome& outcome, uint8_t vector) {
        EXPECT_EQ(outcome.status, EmulationStatus::inject_exception);
        EXPECT_EQ(outcome.vector, vector) << (outcome.reason ? outcome.reason : "");
    }

    uint8_t* base_ = nullptr;
    IdentityGuest guest_;
    GuestRegisters regs_;
};

TEST_F(EmulatorModel, MmioStoreAndLoadReachTheBusWithSizeAndAddress) {
    regs_.gpr[kRbx] = address(page(3)) + 0x10;
    regs_.gpr[kRax] = 0x1122'3344'5566'7788;
    EmulationOutcome outcome = run({0x89, 0x03}); // mov [rbx], eax
    EXPECT_EQ(outcome.status, EmulationStatus::completed);
    EXPECT_EQ(outcome.length, 2);
    EXPECT_EQ(regs_.rip, address(page(0)) + 2);
    EXPECT_TRUE(outcome.has_memory_operand);
    EXPECT_EQ(outcome.memory_linear, address(page(3)) + 0x10);
    EXPECT_EQ(outcome.memory_gpa, address(page(3)) + 0x10);
    ASSERT_EQ(guest_.log.size(), 1u);
    EXPECT_EQ(guest_.log[0], (Access{true, address(page(3)) + 0x10, 4, 0x5566'7788}));

    regs_.rip = address(page(0));
    guest_.log.clear();
    outcome = run({0x0F, 0xB6, 0x4B, 0x01}); // movzx ecx, byte [rbx+1]
    EXPECT_EQ(outcome.status, EmulationStatus::completed);
    EXPECT_EQ(regs_.gpr[kRcx], 0x77u);
    ASSERT_EQ(guest_.log.size(), 1u);
    EXPECT_EQ(guest_.log[0], (Access{false, address(page(3)) + 0x11, 1, 0x77}));
}

TEST_F(EmulatorModel, ReadModifyWriteReadsThenWritesTheDevice) {
    regs_.gpr[kRbx] = address(page(3));
    const uint32_t initial = 0xF0;
    memcpy(page(3), &initial, 4);
    EmulationOutcome outcome = run({0x83, 0x0B, 0x0F}); // or dword [rbx], 0xf
    EXPECT_EQ(outcome.status, EmulationStatus::completed);
    ASSERT_EQ(guest_.log.size(), 2u);
    EXPECT_EQ(guest_.log[0], (Access{false, address(page(3)), 4, 0xF0}));
    EXPECT_EQ(guest_.log[1], (Access{true, address(page(3)), 4, 0xFF}));
    // CMP and TEST only read.
    regs_.rip = address(page(0));
    guest_.log.clear();
    outcome = run({0x83, 0x3B, 0x00}); // cmp dword [rbx], 0
    EXPECT_EQ(guest_.log.size(), 1u);
}

TEST_F(EmulatorModel, AccessAcrossPagesIsSplitAtTheBoundary) {
    regs_.gpr[kRbx] = address(page(4)) - 3;
    regs_.gpr[kRax] = 0x0102'0304'0506'0708;
    EXPECT_EQ(run({0x48, 0x89, 0x03}).status, EmulationStatus::completed); // mov [rbx], rax
    ASSERT_EQ(guest_.log.size(), 2u);
    EXPECT_EQ(guest_.log[0], (Access{true, address(page(4)) - 3, 3, 0x060708}));
    EXPECT_EQ(guest_.log[1], (Access{true, address(page(4)), 5, 0x0102030405}));
    // RAM then MMIO: the RAM part never reaches the bus.
    regs_.rip = address(page(0));
    guest_.log.clear();
    regs_.gpr[kRbx] = address(page(3)) - 2;
    EXPECT_EQ(run({0x48, 0x89, 0x03}).status, EmulationStatus::completed);
    ASSERT_EQ(guest_.log.size(), 1u);
    EXPECT_EQ(guest_.log[0], (Access{true, address(page(3)), 6, 0x010203040506}));
    EXPECT_EQ(page(3)[-1], 0x07);
}

TEST_F(EmulatorModel, RefusesWhatItDoesNotEmulateWithInvalidOpcode) {
    regs_.gpr[kRbx] = address(page(3));
    const GuestRegisters before = regs_;
    const std::vector<std::vector<uint8_t>> refused = {
        {0x66, 0x0F, 0x7F, 0x03}, // movdqa [rbx], xmm0
        {0x0F, 0xB1, 0x0B},       // cmpxchg [rbx], ecx
        {0x0F, 0x22, 0xC0},       // mov cr0, rax
        {0x8E, 0x1B},             // mov ds, [rbx]
        {0x0F, 0x0B},             // ud2
        {0xF0, 0x89, 0x03},       // lock mov [rbx], eax (LOCK is illegal on MOV)
        {0xFF, 0x13},             // call [rbx]
        {0xD1, 0x23},             // shl dword [rbx], 1
    };
    for (const std::vector<uint8_t>& bytes : refused) {
        const EmulationOutcome outcome = run(bytes);
        expect_exception(outcome, vector::kInvalidOpcode);
        EXPECT_FALSE(outcome.has_error_code);
        EXPECT_EQ(regs_.rip, before.rip);
        EXPECT_EQ(regs_.gpr[kRbx], before.gpr[kRbx]);
    }
    EXPECT_TRUE(guest_.log.empty());
}

TEST_F(EmulatorModel, WriteToReadOnlyPageIsAPageFaultWithTheHardwareErrorCode) {
    regs_.gpr[kRbx] = address(page(5)) + 8;
    EmulationOutcome outcome = run({0x89, 0x03}); // mov [rbx], eax at CPL 3
    expect_exception(outcome, vector::kPageFault);
    EXPECT_TRUE(outcome.has_error_code);
    EXPECT_EQ(outcome.error_code, 0x7u); // present | write | user
    EXPECT_EQ(outcome.fault_address, address(page(5)) + 8);
    EXPECT_EQ(regs_.rip, address(page(0)));
    // Reading it is fine; so is a supervisor write with CR0.WP clear.
    EXPECT_EQ(run({0x8B, 0x03}).status, EmulationStatus::completed);
    regs_.rip = address(page(0));
    regs_ = [&] {
        GuestRegisters kernel = guest_.long_mode_registers(0);
        kernel.gpr[kRbx] = regs_.gpr[kRbx];
        kernel.rip = address(page(0));
        kernel.cr0 &= ~mm::guest_paging::kCr0WriteProtect;
        return kernel;
    }();
    EXPECT_EQ(run({0x89, 0x03}).status, EmulationStatus::completed);
}

TEST_F(EmulatorModel, UserAccessToSupervisorPageAndNotPresentPage) {
    regs_.gpr[kRbx] = address(page(6));
    EmulationOutcome outcome = run({0x8B, 0x03});
    expect_exception(outcome, vector::kPageFault);
    EXPECT_EQ(outcome.error_code, 0x5u); // present | user
    regs_.gpr[kRbx] = address(page(7)) + 0x20;
    outcome = run({0x01, 0x03}); // add [rbx], eax: a read-modify-write faults as a write
    EXPECT_EQ(outcome.error_code, 0x6u);
    EXPECT_EQ(outcome.fault_address, address(page(7)) + 0x20);
}

TEST_F(EmulatorModel, SetsAccessedAndDirtyOnTheDataPage) {
    regs_.gpr[kRbx] = address(page(2));
    uint64_t& pte = guest_.leaf_entry(page(2));
    EXPECT_EQ(pte & 0x60, 0u);
    EXPECT_EQ(run({0x89, 0x03}).status, EmulationStatus::completed);
    EXPECT_EQ(pte & 0x60, 0x60u);
}

TEST_F(EmulatorModel, FetchStopsAtTheInstructionEndAndFaultsOnlyWhenItMustCross) {
    regs_.gpr[kRbx] = address(page(2));
    // mov dword [rbx], 0x12345678 (6 bytes) ending exactly at the end of page 0.
    regs_.rip = address(page(1)) - 6;
    EXPECT_EQ(run({0xC7, 0x03, 0x78, 0x56, 0x34, 0x12}).status, EmulationStatus::completed);
    EXPECT_EQ(regs_.rip, address(page(1)));
    // The same instruction two bytes later spills into the unmapped page 1.
    regs_.rip = address(page(1)) - 4;
    memcpy(page(1) - 4, "\xC7\x03\x78\x56", 4);
    const EmulationOutcome outcome = run_in_place();
    expect_exception(outcome, vector::kPageFault);
    EXPECT_EQ(outcome.error_code, 0x14u); // not present | user | instruction fetch
    EXPECT_EQ(outcome.fault_address, address(page(1)));
    EXPECT_EQ(regs_.rip, address(page(1)) - 4);
}

TEST_F(EmulatorModel, PrefetchedBytesNeedNoWalk) {
    regs_.rip = address(page(7)); // not mapped: a walk would fault
    regs_.gpr[kRbx] = address(page(3));
    regs_.gpr[kRax] = 0xAB;
    const uint8_t bytes[] = {0x88, 0x03}; // mov [rbx], al
    EmulatorOptions options;
    options.prefetched_bytes = bytes;
    EXPECT_EQ(run_in_place(options).status, EmulationStatus::completed);
    EXPECT_EQ(page(3)[0], 0xAB);
    EXPECT_EQ(regs_.rip, address(page(7)) + 2);
}

TEST_F(EmulatorModel, NonCanonicalOperandsRaiseGpOrSs) {
    regs_.gpr[kRbx] = 0x0000'8000'0000'0000ULL;
    EmulationOutcome outcome = run({0x8B, 0x03}); // mov eax, [rbx]
    expect_exception(outcome, vector::kGeneralProtection);
    EXPECT_EQ(outcome.error_code, 0u);
    regs_.gpr[kRbp] = 0x0000'8000'0000'0000ULL;
    outcome = run({0x8B, 0x45, 0x00}); // mov eax, [rbp+0]: the stack segment
    expect_exception(outcome, vector::kStackFault);
}

TEST_F(EmulatorModel, RepStoreFaultKeepsTheIterationsDone) {
    regs_.segment[kSs].attributes &= ~0x60; // CPL 0: page 6 is supervisor-only
    regs_.gpr[kRdi] = address(page(7)) - 8;
    regs_.gpr[kRcx] = 4;
    regs_.gpr[kRax] = 0x5A5A'5A5A;
    memcpy(page(7) - 8, "\0\0\0\0\0\0\0\0", 8);
    const EmulationOutcome outcome = run({0xF3, 0xAB}); // rep stosd
    expect_exception(outcome, vector::kPageFault);
    EXPECT_EQ(outcome.fault_address, address(page(7)));
    EXPECT_EQ(regs_.gpr[kRcx], 2u);
    EXPECT_EQ(regs_.gpr[kRdi], address(page(7)));
    EXPECT_EQ(regs_.rip, address(page(0)));
    uint32_t stored[2];
    memcpy(stored, page(7) - 8, 8);
    EXPECT_EQ(stored[0], 0x5A5A'5A5Au);
    EXPECT_EQ(stored[1], 0x5A5A'5A5Au);
}

TEST_F(EmulatorModel, RepMovsFromDeviceIntoRamInBudgetedSteps) {
    for (int i = 0; i < 16; ++i)
        page(3)[i] = static_cast<uint8_t>(i + 1);
    regs_.gpr[kRsi] = address(page(3));
    regs_.gpr[kRdi] = address(page(2));
    regs_.gpr[kRcx] = 4;
    EmulatorOptions options;
    options.max_rep_iterations = 3;
    EmulationOutcome outcome = run({0xF3, 0xA5}, options); // rep movsd
    EXPECT_EQ(outcome.status, EmulationStatus::completed);
    EXPECT_TRUE(outcome.rep_incomplete);
    EXPECT_EQ(regs_.rip, address(page(0)));
    EXPECT_EQ(regs_.gpr[kRcx], 1u);
    outcome = run_in_place(options);
    EXPECT_FALSE(outcome.rep_incomplete);
    EXPECT_EQ(regs_.rip, address(page(0)) + 2);
    EXPECT_EQ(regs_.gpr[kRcx], 0u);
    EXPECT_EQ(memcmp(page(2), page(3), 16), 0);
    ASSERT_EQ(guest_.log.size(), 4u);
    EXPECT_EQ(guest_.log[3], (Access{false, address(page(3)) + 12, 4, 0x100F0E0D}));
}

TEST_F(EmulatorModel, DeviceErrorIsAnErrorAndLeavesRegistersAlone) {
    regs_.gpr[kRbx] = address(page(3));
    guest_.fail_mmio = true;
    const GuestRegisters before = regs_;
    memcpy(page(0), "\x8b\x03", 2); // mov eax, [rbx]
    auto result = emulate_instruction(regs_, guest_, guest_);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::io);
    EXPECT_EQ(regs_.rip, before.rip);
    EXPECT_EQ(regs_.gpr[kRax], before.gpr[kRax]);
}

TEST_F(EmulatorModel, AlignmentCheckAtCpl3) {
    regs_.cr0 |= 1ULL << 18; // CR0.AM
    regs_.rflags |= rflags::kAlignmentCheck;
    regs_.gpr[kRbx] = address(page(3)) + 2;
    const EmulationOutcome outcome = run({0x89, 0x03}); // mov [rbx], eax
    expect_exception(outcome, vector::kAlignmentCheck);
    EXPECT_EQ(outcome.error_code, 0u);
    EXPECT_TRUE(guest_.log.empty());
    regs_.gpr[kRbx] = address(page(3)) + 4;
    EXPECT_EQ(run({0x89, 0x03}).status, EmulationStatus::completed);
    // Not at CPL 0.
    regs_.rip = address(page(0));
    regs_.segment[kSs].attributes &= ~0x60;
    regs_.gpr[kRbx] = address(page(3)) + 2;
    EXPECT_EQ(run({0x89, 0x03}).status, EmulationStatus::completed);
}

TEST_F(EmulatorModel, ReportsSingleStepWhenTrapFlagIsSet) {
    regs_.gpr[kRbx] = address(page(2));
    regs_.rflags |= rflags::kTrap;
    EXPECT_TRUE(run({0x89, 0x03}).single_step);
    regs_.rip = address(page(0));
    regs_.rflags &= ~rflags::kTrap;
    EXPECT_FALSE(run({0x89, 0x03}).single_step);
}

TEST_F(EmulatorModel, ClearsResumeFlagAndRefusesVirtual8086) {
    regs_.gpr[kRbx] = address(page(2));
    regs_.rflags |= rflags::kResume;
    EXPECT_EQ(run({0x89, 0x03}).status, EmulationStatus::completed);
    EXPECT_EQ(regs_.rflags & rflags::kResume, 0u);
    regs_.rip = address(page(0));
    regs_.rflags |= rflags::kVirtual8086;
    expect_exception(run({0x89, 0x03}), vector::kInvalidOpcode);
}

TEST_F(EmulatorModel, CompatibilityModeDecodesAs32Bit) {
    // In a 32-bit code segment 0x48 is DEC EAX, not REX.W.
    regs_.segment[kCs].attributes =
        0xB | 0x10 | 0x60 | SegmentRegister::kPresent | SegmentRegister::kDefaultBig;
    regs_.segment[kCs].limit = 0xFFFF'FFFF;
    regs_.gpr[kRax] = 0x1'0000'0000ULL;
    EmulationOutcome outcome = run({0x48, 0x89, 0x03});
    EXPECT_EQ(outcome.status, EmulationStatus::completed);
    EXPECT_EQ(outcome.length, 1);
    EXPECT_EQ(regs_.gpr[kRax], 0xFFFF'FFFFULL); // 32-bit result, zero-extended
    // 32-bit addressing: [ebx] ignores the upper half.
    regs_.gpr[kRbx] = (0xDEADULL << 32) | address(page(3));
    regs_.gpr[kRax] = 0x42;
    EXPECT_EQ(run({0x89, 0x03}).status, EmulationStatus::completed);
    EXPECT_EQ(page(3)[0], 0x42);
}

TEST_F(EmulatorModel, ProtectedModeSegmentBaseAndLimit) {
    GuestRegisters regs;
    regs.cr0 = mm::guest_paging::kCr0ProtectionEnable; // no paging: linear = physical
    const uint16_t data = 0x3 | 0x10 | SegmentRegister::kPresent | SegmentRegister::kDefaultBig;
    for (SegmentRegister& segment : regs.segment)
        segment = {0x10, data, 0xFFFF'FFFF, 0};
    regs.segment[kCs] = {0x08,
                         0xB | 0x10 | SegmentRegister::kPresent | SegmentRegister::kDefaultBig,
                         0xFFFF'FFFF, 0};
    regs.segment[kDs] = {0x18, data, 0x0FFF, address(page(3))}; // a 4 KiB segment at page 3
    regs.rip = address(page(0));
    regs.gpr[kRbx] = 0x20;
    regs.gpr[kRax] = 0x7788;
    regs_ = regs;
    EXPECT_EQ(run({0x66, 0x89, 0x03}).status, EmulationStatus::completed); // mov [ebx], ax
    EXPECT_EQ(guest_.log.back(), (Access{true, address(page(3)) + 0x20, 2, 0x7788}));
    regs_.rip = address(page(0));
    regs_.gpr[kRbx] = 0xFFF; // the second byte is beyond the limit
    const EmulationOutcome outcome = run({0x66, 0x89, 0x03});
    expect_exception(outcome, vector::kGeneralProtection);
    EXPECT_EQ(outcome.error_code, 0u);
    // A read-only data segment refuses writes.
    regs_.segment[kDs].attributes &= ~SegmentRegister::kWritableOrReadable;
    regs_.gpr[kRbx] = 0;
    expect_exception(run({0x66, 0x89, 0x03}), vector::kGeneralProtection);
    EXPECT_EQ(run({0x66, 0x8B, 0x03}).status, EmulationStatus::completed);
}

TEST_F(EmulatorModel, RealModeSixteenBitAddressing) {
    GuestRegisters regs;
    const uint64_t segment_base = address(page(3)) - 0x100;
    for (SegmentRegister& segment : regs.segment)
        segment = {0, 0x93, 0xFFFF, 0};
    regs.segment[kDs] = {static_cast<uint16_t>(segment_base >> 4), 0x93, 0xFFFF, segment_base};
    regs.segment[kCs] = {0, 0x9B, 0xFFFF, address(page(0))};
    regs.rip = 0;
    regs.gpr[kRbx] = 0xABCD'0000'0100ULL; // BX = 0x100; the rest is ignored
    regs.gpr[kRsi] = 0x4;
    regs.gpr[kRax] = 0x99;
    regs_ = regs;
    memcpy(page(0), "\x88\x00", 2); // mov [bx+si], al
    EXPECT_EQ(run_in_place().status, EmulationStatus::completed);
    EXPECT_EQ(guest_.log.back(), (Access{true, address(page(3)) + 4, 1, 0x99}));
    EXPECT_EQ(regs_.rip, 2u);
}

TEST_F(EmulatorModel, BitStringOffsetReachesBelowTheBase) {
    regs_.gpr[kRbx] = address(page(4)) + 0x10;
    regs_.gpr[kRax] = 0xFFFF'FFFF'FFFF'FC00ULL; // bit -1024: 128 bytes below, as a 64-bit offset
    page(4)[0x10 - 128] = 0x01;
    const EmulationOutcome outcome = run({0x48, 0x0F, 0xAB, 0x03}); // bts [rbx], rax
    EXPECT_EQ(outcome.status, EmulationStatus::completed);
    EXPECT_EQ(outcome.memory_gpa, address(page(4)) + 0x10 - 128);
    EXPECT_EQ(regs_.rflags & rflags::kCarry, rflags::kCarry);
}

} // namespace
