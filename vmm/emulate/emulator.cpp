// emulate_instruction(): the CPU mode from the guest state, fetch and decode, dispatch to the
// instruction family, and the commit rules (RIP, RF) of a completed instruction.
#include "vmm/emulate/context.hpp"

namespace halcyon::emulate {

namespace {

// The execution mode and CPL the way the CPU derives them (SDM 2.2 / APM 1.2).
bool select_mode(Context& ctx) {
    const GuestRegisters& regs = ctx.regs;
    const uint16_t cs = regs.segment[kCs].attributes;
    if (!(regs.cr0 & mm::guest_paging::kCr0ProtectionEnable)) {
        ctx.machine_mode = ZYDIS_MACHINE_MODE_REAL_16;
        ctx.cpl = 0;
        return true;
    }
    if (regs.rflags & rflags::kVirtual8086)
        return ctx.refuse("not emulable: virtual-8086 mode");
    ctx.cpl = regs.segment[kSs].dpl();
    const bool big = cs & SegmentRegister::kDefaultBig;
    if (regs.efer & mm::guest_paging::kEferLma) {
        if (cs & SegmentRegister::kLong)
            ctx.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
        else
            ctx.machine_mode =
                big ? ZYDIS_MACHINE_MODE_LONG_COMPAT_32 : ZYDIS_MACHINE_MODE_LONG_COMPAT_16;
    } else {
        ctx.machine_mode = big ? ZYDIS_MACHINE_MODE_LEGACY_32 : ZYDIS_MACHINE_MODE_LEGACY_16;
    }
    return true;
}

Flow dispatch(Context& ctx) {
    switch (ctx.instruction.mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
    case ZYDIS_MNEMONIC_MOVNTI:
    case ZYDIS_MNEMONIC_MOVZX:
    case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_MOVSXD:
    case ZYDIS_MNEMONIC_XCHG:
        return execute_data_transfer(ctx);
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_ADC:
    case ZYDIS_MNEMONIC_SUB:
    case ZYDIS_MNEMONIC_SBB:
    case ZYDIS_MNEMONIC_CMP:
    case ZYDIS_MNEMONIC_AND:
    case ZYDIS_MNEMONIC_OR:
    case ZYDIS_MNEMONIC_XOR:
    case ZYDIS_MNEMONIC_TEST:
    case ZYDIS_MNEMONIC_INC:
    case ZYDIS_MNEMONIC_DEC:
    case ZYDIS_MNEMONIC_NEG:
    case ZYDIS_MNEMONIC_NOT:
        return execute_arithmetic(ctx);
    case ZYDIS_MNEMONIC_BT:
    case ZYDIS_MNEMONIC_BTS:
    case ZYDIS_MNEMONIC_BTR:
    case ZYDIS_MNEMONIC_BTC:
        return execute_bit_test(ctx);
    case ZYDIS_MNEMONIC_MOVSB:
    case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_MOVSD:
    case ZYDIS_MNEMONIC_MOVSQ:
    case ZYDIS_MNEMONIC_STOSB:
    case ZYDIS_MNEMONIC_STOSW:
    case ZYDIS_MNEMONIC_STOSD:
    case ZYDIS_MNEMONIC_STOSQ:
    case ZYDIS_MNEMONIC_LODSB:
    case ZYDIS_MNEMONIC_LODSW:
    case ZYDIS_MNEMONIC_LODSD:
    case ZYDIS_MNEMONIC_LODSQ:
        return execute_string(ctx);
    default:
        return ctx.refuse("not emulable: instruction");
    }
}

Flow run(Context& ctx) {
    if (!select_mode(ctx))
        return false;
    EMULATE_TRY(fetch_and_decode(ctx));
    if (!ctx.long64()) {
        // The whole instruction must lie within CS (checked after decoding, as its length
        // is only known then).
        const uint64_t last = ctx.regs.rip + ctx.instruction.length - 1;
        if (last > ctx.regs.segment[kCs].limit)
            return ctx.raise_with_code(vector::kGeneralProtection, 0, "RIP beyond CS limit");
    }
    return dispatch(ctx);
}

} // namespace

ErrorOr<EmulationOutcome> emulate_instruction(GuestRegisters& regs, mm::GuestPhysicalMemory& memory,
                                              MmioBus& bus, const EmulatorOptions& options) {
    Context ctx{.regs = regs, .memory = memory, .bus = bus, .options = options, .outcome = {}};
    const bool completed = TRY(run(ctx));
    // Handlers change registers only after their last possible fault, except REP string
    // instructions, whose completed iterations are architecturally visible: so the working
    // registers are always committed, and RIP moves only when the instruction is done.
    ctx.regs.rip = regs.rip;
    ctx.outcome.single_step = completed && (regs.rflags & rflags::kTrap);
    if (completed && !ctx.outcome.rep_incomplete) {
        ctx.regs.rip = ctx.next_rip;
        ctx.regs.rflags &= ~rflags::kResume;
    }
    regs = ctx.regs;
    return ctx.outcome;
}

} // namespace halcyon::emulate
