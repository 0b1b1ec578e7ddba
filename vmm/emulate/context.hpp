// State shared by the parts of one emulation: the decoded instruction, a working copy of the
// registers, and the guest-access helpers every instruction handler uses. Internal header.
#pragma once

#include "vmm/emulate/emulator.hpp"
#include <Zydis/Decoder.h>

namespace halcyon::emulate {

// Handlers return ErrorOr<bool>: an Error for host-side failures, false when a guest exception
// has been recorded in `outcome` (stop, nothing more may happen), true to go on.
using Flow = ErrorOr<bool>;

// Propagates both an Error and a recorded guest exception.
#define EMULATE_TRY(expression)                                                                    \
    do {                                                                                           \
        if (!TRY(expression))                                                                      \
            return false;                                                                          \
    } while (0)

struct Context {
    GuestRegisters regs; // working copy; committed by emulate_instruction()
    mm::GuestPhysicalMemory& memory;
    MmioBus& bus;
    const EmulatorOptions& options;
    EmulationOutcome outcome;
    ZydisMachineMode machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
    ZydisDecodedInstruction instruction{};
    ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT]{};
    uint64_t next_rip = 0;
    unsigned cpl = 0;

    [[nodiscard]] bool long64() const { return machine_mode == ZYDIS_MACHINE_MODE_LONG_64; }
    [[nodiscard]] mm::GuestPagingState paging() const {
        return {regs.cr0, regs.cr3, regs.cr4, regs.efer, regs.physical_address_bits};
    }

    // Records a guest exception and returns false, for `return ctx.raise(...)`.
    bool raise(uint8_t vector, const char* reason);
    bool raise_with_code(uint8_t vector, uint32_t error_code, const char* reason);
    bool refuse(const char* reason) { return raise(vector::kInvalidOpcode, reason); }
};

// A general-purpose register operand: which GPR, how wide, and whether it is AH/CH/DH/BH.
struct GprOperand {
    uint8_t index;
    uint8_t size;
    bool high_byte;
};

[[nodiscard]] bool gpr_operand(ZydisRegister reg, GprOperand& out);
[[nodiscard]] uint64_t read_gpr(const GuestRegisters& regs, GprOperand gpr);
// Writes with the CPU's merge rules: 8/16-bit writes keep the rest, 32-bit writes zero-extend.
void write_gpr(GuestRegisters& regs, GprOperand gpr, uint64_t value);

// A guest memory access, translated and checked before any byte moves, so an instruction either
// faults before it has side effects or completes.
struct MemoryAccess {
    uint64_t linear = 0;
    uint8_t size = 0;
    uint8_t piece_count = 0;
    uint64_t piece_gpa[2] = {};
    uint8_t piece_size[2] = {};
};

// Address of a memory operand: its segment (SS-relative accesses fault with #SS, not #GP) and
// offset (the effective address, already wrapped to the address size).
struct OperandAddress {
    ZydisRegister segment;
    uint64_t offset;
};

[[nodiscard]] uint64_t address_mask(const Context& ctx);
// The effective address of a memory operand plus `displacement` bytes (BT's bit-string offset).
[[nodiscard]] OperandAddress operand_address(const Context& ctx, const ZydisDecodedOperand& op,
                                             int64_t displacement = 0);
// Segment checks, canonical check, page walk; records the fault and returns false on failure.
[[nodiscard]] Flow prepare_access(Context& ctx, OperandAddress address, unsigned size, bool write,
                                  MemoryAccess& out);
[[nodiscard]] ErrorOr<uint64_t> load(Context& ctx, const MemoryAccess& access);
[[nodiscard]] ErrorOr<void> store(Context& ctx, const MemoryAccess& access, uint64_t value);

// Generic operand access for register, memory and immediate operands, in two steps so that
// every operand is checked (segments, page walk, write permission) before anything is read or
// written: prepare_operand() validates and translates, read/write_operand() then cannot fault.
// A read-modify-write destination is prepared once with `write` = true.
[[nodiscard]] Flow prepare_operand(Context& ctx, const ZydisDecodedOperand& op, bool write,
                                   MemoryAccess& access);
[[nodiscard]] ErrorOr<uint64_t> read_operand(Context& ctx, const ZydisDecodedOperand& op,
                                             const MemoryAccess& access);
[[nodiscard]] ErrorOr<void> write_operand(Context& ctx, const ZydisDecodedOperand& op,
                                          const MemoryAccess& access, uint64_t value);

// Fetches at CS:RIP (or uses the prefetched bytes) and decodes into ctx.instruction/operands.
[[nodiscard]] Flow fetch_and_decode(Context& ctx);

// Instruction families (one file each).
[[nodiscard]] Flow execute_data_transfer(Context& ctx);
[[nodiscard]] Flow execute_arithmetic(Context& ctx);
[[nodiscard]] Flow execute_bit_test(Context& ctx);
[[nodiscard]] Flow execute_string(Context& ctx);

} // namespace halcyon::emulate
