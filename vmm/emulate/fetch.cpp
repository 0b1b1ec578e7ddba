// Instruction fetch at CS:RIP through the guest's page tables, and decoding. Bytes are fetched a
// page at a time and only as far as the decoder asks, so an instruction that ends just before an
// unmapped page does not fault on the page after it - as on the CPU.
#include "vmm/emulate/context.hpp"
#include <string.h>

namespace halcyon::emulate {

namespace {

constexpr unsigned kMaxInstructionLength = 15;

uint64_t instruction_pointer_mask(const Context& ctx) {
    switch (ctx.machine_mode) {
    case ZYDIS_MACHINE_MODE_LONG_64:
        return ~0ULL;
    case ZYDIS_MACHINE_MODE_LONG_COMPAT_32:
    case ZYDIS_MACHINE_MODE_LEGACY_32:
        return 0xFFFF'FFFFULL;
    default:
        return 0xFFFF;
    }
}

// Fetches bytes [have, up to the page end or 15) of the instruction.
Flow fetch_more(Context& ctx, uint8_t* bytes, unsigned& have) {
    const uint64_t offset = (ctx.regs.rip + have) & instruction_pointer_mask(ctx);
    uint64_t linear = offset;
    if (!ctx.long64())
        linear = (ctx.regs.segment[kCs].base + offset) & 0xFFFF'FFFFULL;
    const mm::GuestWalkResult walk = TRY(
        mm::walk_guest_page_tables(ctx.paging(), linear, {.user = ctx.cpl == 3, .execute = true},
                                   ctx.memory, {ctx.options.set_accessed_dirty}));
    if (walk.status == mm::GuestWalkStatus::general_protection)
        return ctx.raise_with_code(vector::kGeneralProtection, 0, "non-canonical RIP");
    if (walk.status == mm::GuestWalkStatus::page_fault) {
        ctx.outcome.fault_address = linear;
        return ctx.raise_with_code(vector::kPageFault, walk.error_code, "page fault on fetch");
    }
    const unsigned to_page_end = 4096 - (linear & 0xFFF);
    const unsigned wanted = kMaxInstructionLength - have;
    const unsigned chunk = wanted < to_page_end ? wanted : to_page_end;
    // Code in device memory cannot be fetched by us (that would be a device read with side
    // effects the guest never asked for): the error goes to the caller.
    TRY(ctx.memory.read(walk.gpa, bytes + have, chunk));
    have += chunk;
    return true;
}

} // namespace

Flow fetch_and_decode(Context& ctx) {
    ZydisDecoder decoder;
    ZydisStackWidth stack_width = ZYDIS_STACK_WIDTH_16;
    if (ctx.long64())
        stack_width = ZYDIS_STACK_WIDTH_64;
    else if (ctx.regs.segment[kSs].attributes & SegmentRegister::kDefaultBig)
        stack_width = ZYDIS_STACK_WIDTH_32;
    if (ZYAN_FAILED(ZydisDecoderInit(&decoder, ctx.machine_mode, stack_width)))
        return ctx.refuse("not emulable: decoder mode");

    uint8_t bytes[kMaxInstructionLength];
    unsigned have = 0;
    if (!ctx.options.prefetched_bytes.empty()) {
        have = ctx.options.prefetched_bytes.size() < kMaxInstructionLength
                   ? static_cast<unsigned>(ctx.options.prefetched_bytes.size())
                   : kMaxInstructionLength;
        memcpy(bytes, ctx.options.prefetched_bytes.data(), have);
    }
    for (;;) {
        if (have > 0) {
            const ZyanStatus status =
                ZydisDecoderDecodeFull(&decoder, bytes, have, &ctx.instruction, ctx.operands);
            if (ZYAN_SUCCESS(status)) {
                ctx.outcome.length = ctx.instruction.length;
                ctx.next_rip =
                    (ctx.regs.rip + ctx.instruction.length) & instruction_pointer_mask(ctx);
                return true;
            }
            if (status == ZYDIS_STATUS_INSTRUCTION_TOO_LONG)
                return ctx.raise_with_code(vector::kGeneralProtection, 0, "instruction too long");
            if (status != ZYDIS_STATUS_NO_MORE_DATA || have == kMaxInstructionLength)
                return ctx.refuse("undefined or invalid instruction");
        }
        EMULATE_TRY(fetch_more(ctx, bytes, have));
    }
}

} // namespace halcyon::emulate
