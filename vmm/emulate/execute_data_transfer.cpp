// MOV (all directions, immediates, moffs), MOVNTI, MOVZX, MOVSX, MOVSXD and XCHG. None touch
// RFLAGS.
#include "vmm/emulate/alu.hpp"
#include "vmm/emulate/context.hpp"

namespace halcyon::emulate {

namespace {

Flow move(Context& ctx, bool sign_extend_source, bool zero_extend_source) {
    const ZydisDecodedOperand& destination = ctx.operands[0];
    const ZydisDecodedOperand& source = ctx.operands[1];
    MemoryAccess source_access;
    MemoryAccess destination_access;
    EMULATE_TRY(prepare_operand(ctx, source, false, source_access));
    EMULATE_TRY(prepare_operand(ctx, destination, true, destination_access));
    uint64_t value = TRY(read_operand(ctx, source, source_access));
    const unsigned source_size = source.size / 8;
    if (sign_extend_source)
        value = sign_extend(value & size_mask(source_size), source_size);
    else if (zero_extend_source)
        value &= size_mask(source_size);
    TRY(write_operand(ctx, destination, destination_access,
                      value & size_mask(destination.size / 8)));
    return true;
}

Flow exchange(Context& ctx) {
    const ZydisDecodedOperand& first = ctx.operands[0];
    const ZydisDecodedOperand& second = ctx.operands[1];
    MemoryAccess first_access;
    MemoryAccess second_access;
    EMULATE_TRY(prepare_operand(ctx, first, true, first_access));
    EMULATE_TRY(prepare_operand(ctx, second, true, second_access));
    const uint64_t first_value = TRY(read_operand(ctx, first, first_access));
    const uint64_t second_value = TRY(read_operand(ctx, second, second_access));
    // Memory first: if the device write fails, no register has changed yet.
    if (first.type == ZYDIS_OPERAND_TYPE_MEMORY) {
        TRY(write_operand(ctx, first, first_access, second_value));
        TRY(write_operand(ctx, second, second_access, first_value));
    } else {
        TRY(write_operand(ctx, second, second_access, first_value));
        TRY(write_operand(ctx, first, first_access, second_value));
    }
    return true;
}

} // namespace

Flow execute_data_transfer(Context& ctx) {
    if (ctx.instruction.operand_count_visible != 2)
        return ctx.refuse("not emulable: operand count");
    switch (ctx.instruction.mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
    case ZYDIS_MNEMONIC_MOVNTI: // the non-temporal hint means nothing to a device
        return move(ctx, false, false);
    case ZYDIS_MNEMONIC_MOVZX:
        return move(ctx, false, true);
    case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_MOVSXD:
        return move(ctx, true, false);
    case ZYDIS_MNEMONIC_XCHG:
        return exchange(ctx);
    default:
        return ctx.refuse("not emulable: instruction");
    }
}

} // namespace halcyon::emulate
