// ADD/ADC/SUB/SBB/CMP/AND/OR/XOR/TEST (two operands) and INC/DEC/NEG/NOT (one operand).
#include "vmm/emulate/alu.hpp"
#include "vmm/emulate/context.hpp"

namespace halcyon::emulate {

namespace {

bool alu_op_for(ZydisMnemonic mnemonic, AluOp& op, unsigned& operand_count) {
    operand_count = 2;
    switch (mnemonic) {
    case ZYDIS_MNEMONIC_ADD:
        op = AluOp::add;
        return true;
    case ZYDIS_MNEMONIC_ADC:
        op = AluOp::adc;
        return true;
    case ZYDIS_MNEMONIC_SUB:
        op = AluOp::sub;
        return true;
    case ZYDIS_MNEMONIC_SBB:
        op = AluOp::sbb;
        return true;
    case ZYDIS_MNEMONIC_CMP:
        op = AluOp::cmp;
        return true;
    case ZYDIS_MNEMONIC_AND:
        op = AluOp::and_;
        return true;
    case ZYDIS_MNEMONIC_OR:
        op = AluOp::or_;
        return true;
    case ZYDIS_MNEMONIC_XOR:
        op = AluOp::xor_;
        return true;
    case ZYDIS_MNEMONIC_TEST:
        op = AluOp::test;
        return true;
    default:
        break;
    }
    operand_count = 1;
    switch (mnemonic) {
    case ZYDIS_MNEMONIC_INC:
        op = AluOp::inc;
        return true;
    case ZYDIS_MNEMONIC_DEC:
        op = AluOp::dec;
        return true;
    case ZYDIS_MNEMONIC_NEG:
        op = AluOp::neg;
        return true;
    case ZYDIS_MNEMONIC_NOT:
        op = AluOp::not_;
        return true;
    default:
        return false;
    }
}

} // namespace

Flow execute_arithmetic(Context& ctx) {
    AluOp op;
    unsigned operand_count;
    if (!alu_op_for(ctx.instruction.mnemonic, op, operand_count) ||
        ctx.instruction.operand_count_visible != operand_count)
        return ctx.refuse("not emulable: instruction");
    const ZydisDecodedOperand& destination = ctx.operands[0];
    const bool writes = op != AluOp::cmp && op != AluOp::test;
    MemoryAccess destination_access;
    MemoryAccess source_access;
    // The destination is translated for writing before it is read, as the CPU's locked
    // read-modify-write does: a read-only page faults with W=1 and the device sees no read.
    EMULATE_TRY(prepare_operand(ctx, destination, writes, destination_access));
    uint64_t source = 0;
    if (operand_count == 2) {
        EMULATE_TRY(prepare_operand(ctx, ctx.operands[1], false, source_access));
        source = TRY(read_operand(ctx, ctx.operands[1], source_access));
    }
    const uint64_t value = TRY(read_operand(ctx, destination, destination_access));
    const AluResult result = alu(op, destination.size / 8, value, source, ctx.regs.rflags);
    if (result.writes_destination)
        TRY(write_operand(ctx, destination, destination_access, result.value));
    ctx.regs.rflags = result.rflags;
    return true;
}

} // namespace halcyon::emulate
