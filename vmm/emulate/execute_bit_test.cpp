// BT/BTS/BTR/BTC with immediate and register bit offsets.
#include "vmm/emulate/alu.hpp"
#include "vmm/emulate/context.hpp"

namespace halcyon::emulate {

Flow execute_bit_test(Context& ctx) {
    BitOp op;
    switch (ctx.instruction.mnemonic) {
    case ZYDIS_MNEMONIC_BT:
        op = BitOp::test;
        break;
    case ZYDIS_MNEMONIC_BTS:
        op = BitOp::set;
        break;
    case ZYDIS_MNEMONIC_BTR:
        op = BitOp::reset;
        break;
    case ZYDIS_MNEMONIC_BTC:
        op = BitOp::complement;
        break;
    default:
        return ctx.refuse("not emulable: instruction");
    }
    if (ctx.instruction.operand_count_visible != 2)
        return ctx.refuse("not emulable: operand count");
    const ZydisDecodedOperand& base = ctx.operands[0];
    const ZydisDecodedOperand& offset_operand = ctx.operands[1];
    const unsigned size = base.size / 8;
    if (size != 2 && size != 4 && size != 8)
        return ctx.refuse("not emulable: operand size");
    const unsigned bits = size * 8;

    MemoryAccess unused;
    EMULATE_TRY(prepare_operand(ctx, offset_operand, false, unused));
    const uint64_t raw_offset = TRY(read_operand(ctx, offset_operand, unused));
    unsigned bit = raw_offset & (bits - 1);
    MemoryAccess access;
    if (base.type == ZYDIS_OPERAND_TYPE_MEMORY &&
        offset_operand.type == ZYDIS_OPERAND_TYPE_REGISTER) {
        // A register offset addresses a bit string: it is signed, and its high part selects the
        // operand-sized unit relative to the effective address (SDM "BT - Bit Test").
        const int64_t offset = static_cast<int64_t>(sign_extend(raw_offset, size));
        const int shift = bits == 16 ? 4 : bits == 32 ? 5 : 6;
        const int64_t displacement = (offset >> shift) * static_cast<int64_t>(size);
        if (base.mem.type != ZYDIS_MEMOP_TYPE_MEM)
            return ctx.refuse("not emulable: memory operand type");
        EMULATE_TRY(prepare_access(ctx, operand_address(ctx, base, displacement), size,
                                   op != BitOp::test, access));
    } else {
        EMULATE_TRY(prepare_operand(ctx, base, op != BitOp::test, access));
    }
    const uint64_t value = TRY(read_operand(ctx, base, access));
    const AluResult result = bit_operation(op, size, value, bit, ctx.regs.rflags);
    if (result.writes_destination)
        TRY(write_operand(ctx, base, access, result.value));
    ctx.regs.rflags = result.rflags;
    return true;
}

} // namespace halcyon::emulate
