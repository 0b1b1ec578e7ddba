// MOVS, STOS and LODS, with REP. The element moves between any mix of RAM and device memory
// (a REP MOVS from a frame buffer into RAM, a REP STOS clearing device registers).
#include "vmm/emulate/alu.hpp"
#include "vmm/emulate/context.hpp"

namespace halcyon::emulate {

namespace {

enum class StringOp : uint8_t { movs, stos, lods };

bool classify(ZydisMnemonic mnemonic, StringOp& op, unsigned& size) {
    switch (mnemonic) {
    case ZYDIS_MNEMONIC_MOVSB:
        op = StringOp::movs;
        size = 1;
        return true;
    case ZYDIS_MNEMONIC_MOVSW:
        op = StringOp::movs;
        size = 2;
        return true;
    case ZYDIS_MNEMONIC_MOVSD:
        op = StringOp::movs;
        size = 4;
        return true;
    case ZYDIS_MNEMONIC_MOVSQ:
        op = StringOp::movs;
        size = 8;
        return true;
    case ZYDIS_MNEMONIC_STOSB:
        op = StringOp::stos;
        size = 1;
        return true;
    case ZYDIS_MNEMONIC_STOSW:
        op = StringOp::stos;
        size = 2;
        return true;
    case ZYDIS_MNEMONIC_STOSD:
        op = StringOp::stos;
        size = 4;
        return true;
    case ZYDIS_MNEMONIC_STOSQ:
        op = StringOp::stos;
        size = 8;
        return true;
    case ZYDIS_MNEMONIC_LODSB:
        op = StringOp::lods;
        size = 1;
        return true;
    case ZYDIS_MNEMONIC_LODSW:
        op = StringOp::lods;
        size = 2;
        return true;
    case ZYDIS_MNEMONIC_LODSD:
        op = StringOp::lods;
        size = 4;
        return true;
    case ZYDIS_MNEMONIC_LODSQ:
        op = StringOp::lods;
        size = 8;
        return true;
    default:
        return false;
    }
}

// The source segment: DS unless overridden (the destination is always ES, not overridable).
ZydisRegister source_segment(const ZydisDecodedInstruction& instruction) {
    const ZydisInstructionAttributes attributes = instruction.attributes;
    if (attributes & ZYDIS_ATTRIB_HAS_SEGMENT_ES)
        return ZYDIS_REGISTER_ES;
    if (attributes & ZYDIS_ATTRIB_HAS_SEGMENT_CS)
        return ZYDIS_REGISTER_CS;
    if (attributes & ZYDIS_ATTRIB_HAS_SEGMENT_SS)
        return ZYDIS_REGISTER_SS;
    if (attributes & ZYDIS_ATTRIB_HAS_SEGMENT_FS)
        return ZYDIS_REGISTER_FS;
    if (attributes & ZYDIS_ATTRIB_HAS_SEGMENT_GS)
        return ZYDIS_REGISTER_GS;
    return ZYDIS_REGISTER_DS;
}

// One element; both sides are translated before either is touched.
Flow one_element(Context& ctx, StringOp op, unsigned size, GprOperand index_si,
                 GprOperand index_di) {
    MemoryAccess source;
    MemoryAccess destination;
    const GprOperand accumulator{kRax, static_cast<uint8_t>(size), false};
    if (op != StringOp::stos) {
        const OperandAddress address{source_segment(ctx.instruction), read_gpr(ctx.regs, index_si)};
        EMULATE_TRY(prepare_access(ctx, address, size, false, source));
    }
    if (op != StringOp::lods) {
        const OperandAddress address{ZYDIS_REGISTER_ES, read_gpr(ctx.regs, index_di)};
        EMULATE_TRY(prepare_access(ctx, address, size, true, destination));
    }
    switch (op) {
    case StringOp::movs:
        TRY(store(ctx, destination, TRY(load(ctx, source))));
        break;
    case StringOp::stos:
        TRY(store(ctx, destination, read_gpr(ctx.regs, accumulator)));
        break;
    case StringOp::lods:
        write_gpr(ctx.regs, accumulator, TRY(load(ctx, source)));
        break;
    }
    const uint64_t step = (ctx.regs.rflags & rflags::kDirection) ? 0 - uint64_t{size} : size;
    if (op != StringOp::stos)
        write_gpr(ctx.regs, index_si, read_gpr(ctx.regs, index_si) + step);
    if (op != StringOp::lods)
        write_gpr(ctx.regs, index_di, read_gpr(ctx.regs, index_di) + step);
    return true;
}

} // namespace

Flow execute_string(Context& ctx) {
    StringOp op;
    unsigned size;
    if (ctx.instruction.opcode_map != ZYDIS_OPCODE_MAP_DEFAULT ||
        !classify(ctx.instruction.mnemonic, op, size))
        return ctx.refuse("not emulable: instruction");
    // rCX, rSI and rDI are used - and updated - at the address size, not the operand size.
    const uint8_t address_size = static_cast<uint8_t>(ctx.instruction.address_width / 8);
    const GprOperand counter{kRcx, address_size, false};
    const GprOperand index_si{kRsi, address_size, false};
    const GprOperand index_di{kRdi, address_size, false};
    // F2 and F3 both repeat MOVS/STOS/LODS (there is no condition to test).
    const bool repeat = ctx.instruction.attributes &
                        (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE);
    if (!repeat)
        return one_element(ctx, op, size, index_si, index_di);

    // With a 32-bit address size, the CPU writes ECX/ESI/EDI - zero-extending them - even
    // when the count is zero and nothing moves (observed on Intel by the native tests).
    if (address_size == 4) {
        write_gpr(ctx.regs, counter, read_gpr(ctx.regs, counter));
        if (op != StringOp::stos)
            write_gpr(ctx.regs, index_si, read_gpr(ctx.regs, index_si));
        if (op != StringOp::lods)
            write_gpr(ctx.regs, index_di, read_gpr(ctx.regs, index_di));
    }
    for (uint32_t done = 0;; ++done) {
        if (read_gpr(ctx.regs, counter) == 0)
            return true;
        if (done == ctx.options.max_rep_iterations) {
            ctx.outcome.rep_incomplete = true;
            return true;
        }
        EMULATE_TRY(one_element(ctx, op, size, index_si, index_di));
        write_gpr(ctx.regs, counter, read_gpr(ctx.regs, counter) - 1);
    }
}

} // namespace halcyon::emulate
