// The MMIO instruction emulator: when a guest touches device memory, the exit tells us only the
// faulting GPA, so the instruction at the guest's RIP is fetched (through the guest's own page
// tables), decoded with Zydis and carried out against the device (MmioBus) and guest RAM
// (GuestPhysicalMemory), with registers and RFLAGS updated exactly as the CPU would have.
//
// What is emulated (integer forms only, in every operand size the encoding allows):
//   MOV (r/m<->r, imm->r/m, moffs), MOVNTI, MOVZX, MOVSX, MOVSXD,
//   ADD/ADC/SUB/SBB/CMP/AND/OR/XOR/TEST, INC/DEC/NEG/NOT, XCHG, BT/BTS/BTR/BTC (immediate and
//   register bit offsets), and MOVS/STOS/LODS with REP, DF and 16/32/64-bit address sizes.
// Anything else - SSE/AVX moves, CMPXCHG, segment/control register moves, far pointers, VM86
// mode - is refused with #UD rather than guessed at. Pure code: no allocation, no host access.
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/guest_page_walk.hpp"
#include <span>
#include <stdint.h>

namespace halcyon::emulate {

// GPR numbering is the instruction encoding's: RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15.
enum Gpr : uint8_t { kRax, kRcx, kRdx, kRbx, kRsp, kRbp, kRsi, kRdi, kR8, kR9, kR10, kR11 };
// Segment numbering is the encoding's too: ES, CS, SS, DS, FS, GS.
enum Segment : uint8_t { kEs, kCs, kSs, kDs, kFs, kGs };

// A segment register as the VMCB stores it: attributes in SVM's 12-bit compressed form
// (type[3:0], S[4], DPL[6:5], P[7], AVL[8], L[9], D/B[10], G[11]) and the limit already scaled by
// G.
struct SegmentRegister {
    uint16_t selector = 0;
    uint16_t attributes = 0;
    uint32_t limit = 0;
    uint64_t base = 0;

    static constexpr uint16_t kAccessedType = 1 << 0;
    static constexpr uint16_t kWritableOrReadable = 1 << 1;
    static constexpr uint16_t kExpandDownOrConforming = 1 << 2;
    static constexpr uint16_t kCode = 1 << 3;
    static constexpr uint16_t kPresent = 1 << 7;
    static constexpr uint16_t kLong = 1 << 9;
    static constexpr uint16_t kDefaultBig = 1 << 10;
    [[nodiscard]] constexpr unsigned dpl() const { return (attributes >> 5) & 3; }
};

struct GuestRegisters {
    uint64_t gpr[16] = {};
    uint64_t rip = 0;
    uint64_t rflags = 0x2;
    uint64_t cr0 = 0;
    uint64_t cr3 = 0;
    uint64_t cr4 = 0;
    uint64_t efer = 0;
    SegmentRegister segment[6] = {};
    uint8_t physical_address_bits = 52; // the guest's MAXPHYADDR
};

namespace rflags {
inline constexpr uint64_t kCarry = 1ULL << 0;
inline constexpr uint64_t kParity = 1ULL << 2;
inline constexpr uint64_t kAdjust = 1ULL << 4;
inline constexpr uint64_t kZero = 1ULL << 6;
inline constexpr uint64_t kSign = 1ULL << 7;
inline constexpr uint64_t kTrap = 1ULL << 8;
inline constexpr uint64_t kDirection = 1ULL << 10;
inline constexpr uint64_t kOverflow = 1ULL << 11;
inline constexpr uint64_t kResume = 1ULL << 16;
inline constexpr uint64_t kVirtual8086 = 1ULL << 17;
inline constexpr uint64_t kAlignmentCheck = 1ULL << 18;
inline constexpr uint64_t kArithmetic = kCarry | kParity | kAdjust | kZero | kSign | kOverflow;
} // namespace rflags

// Device memory. `size` is 1, 2, 4 or 8 bytes, except for an access that straddles a page
// boundary, which is split at the boundary into pieces of 1..7 bytes. Values are little-endian
// in the low `size` bytes.
class MmioBus {
public:
    [[nodiscard]] virtual ErrorOr<uint64_t> read(uint64_t gpa, unsigned size) = 0;
    [[nodiscard]] virtual ErrorOr<void> write(uint64_t gpa, unsigned size, uint64_t value) = 0;

protected:
    ~MmioBus() = default;
};

struct EmulatorOptions {
    // REP iterations done per call. When the count is not exhausted the instruction stays at
    // RIP with its progress in rCX/rSI/rDI - exactly how the CPU leaves an interrupted REP - so
    // the guest re-executes it (exiting again) and a huge count cannot stall the host.
    uint32_t max_rep_iterations = 4096;
    // Instruction bytes already fetched by the hardware (SVM decode assists); used instead of a
    // guest page-table walk when they cover the instruction.
    std::span<const uint8_t> prefetched_bytes = {};
    // Set Accessed/Dirty bits in the guest tables during walks, as the CPU does.
    bool set_accessed_dirty = true;
};

enum class EmulationStatus : uint8_t {
    completed,        // registers and memory updated, RIP advanced (unless rep_incomplete)
    inject_exception, // deliver `vector` (with error_code when has_error_code); state untouched
};

namespace vector {
inline constexpr uint8_t kInvalidOpcode = 6;      // #UD
inline constexpr uint8_t kStackFault = 12;        // #SS
inline constexpr uint8_t kGeneralProtection = 13; // #GP
inline constexpr uint8_t kPageFault = 14;         // #PF (CR2 = fault_address)
inline constexpr uint8_t kAlignmentCheck = 17;    // #AC
} // namespace vector

struct EmulationOutcome {
    EmulationStatus status = EmulationStatus::completed;
    uint8_t vector = 0;
    bool has_error_code = false;
    uint32_t error_code = 0;
    uint64_t fault_address = 0; // CR2 for #PF
    // Why an exception is injected, for the log ("not emulable: ...", "page fault on fetch").
    const char* reason = nullptr;
    uint8_t length = 0;          // decoded instruction length (0 if decoding never finished)
    bool rep_incomplete = false; // REP stopped after max_rep_iterations; RIP left in place
    // RFLAGS.TF was set: the CPU would raise a single-step #DB after this instruction (after
    // each REP iteration, too), so the caller must inject it (DR6.BS) before resuming.
    bool single_step = false;
    // The first explicit memory operand: its linear address and GPA, so the caller can check it
    // against the faulting GPA of the exit (MOVS has two; this is the source).
    bool has_memory_operand = false;
    uint64_t memory_linear = 0;
    uint64_t memory_gpa = 0;
};

// Emulates one instruction at regs.rip. On `completed` and on a fault in the middle of a REP
// string instruction, `regs` holds the new state (for the REP fault: the iterations done, RIP
// still at the instruction, as the CPU would leave it). The ErrorOr fails only for host-side
// problems - an MmioBus error, guest tables or code in memory the host cannot read - after
// which `regs` is left exactly as it was (even the register progress of a REP is dropped,
// though its earlier stores happened): the caller decides what to do with the VM, normally
// stopping it.
[[nodiscard]] ErrorOr<EmulationOutcome> emulate_instruction(GuestRegisters& regs,
                                                            mm::GuestPhysicalMemory& memory,
                                                            MmioBus& bus,
                                                            const EmulatorOptions& options = {});

} // namespace halcyon::emulate
