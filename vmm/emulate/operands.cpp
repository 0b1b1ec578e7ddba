// Operand access: GPRs with the CPU's partial-register rules, effective addresses, segmentation,
// the guest page walk, and the RAM-or-device routing of every byte.
#include "vmm/emulate/alu.hpp"
#include "vmm/emulate/context.hpp"

namespace halcyon::emulate {

bool Context::raise(uint8_t vector, const char* reason) {
    outcome.status = EmulationStatus::inject_exception;
    outcome.vector = vector;
    outcome.has_error_code = false;
    outcome.reason = reason;
    return false;
}

bool Context::raise_with_code(uint8_t vector, uint32_t error_code, const char* reason) {
    raise(vector, reason);
    outcome.has_error_code = true;
    outcome.error_code = error_code;
    return false;
}

bool gpr_operand(ZydisRegister reg, GprOperand& out) {
    if (reg >= ZYDIS_REGISTER_AL && reg <= ZYDIS_REGISTER_BL)
        out = {static_cast<uint8_t>(reg - ZYDIS_REGISTER_AL), 1, false};
    else if (reg >= ZYDIS_REGISTER_AH && reg <= ZYDIS_REGISTER_BH)
        out = {static_cast<uint8_t>(reg - ZYDIS_REGISTER_AH), 1, true};
    else if (reg >= ZYDIS_REGISTER_SPL && reg <= ZYDIS_REGISTER_R15B)
        out = {static_cast<uint8_t>(4 + reg - ZYDIS_REGISTER_SPL), 1, false};
    else if (reg >= ZYDIS_REGISTER_AX && reg <= ZYDIS_REGISTER_R15W)
        out = {static_cast<uint8_t>(reg - ZYDIS_REGISTER_AX), 2, false};
    else if (reg >= ZYDIS_REGISTER_EAX && reg <= ZYDIS_REGISTER_R15D)
        out = {static_cast<uint8_t>(reg - ZYDIS_REGISTER_EAX), 4, false};
    else if (reg >= ZYDIS_REGISTER_RAX && reg <= ZYDIS_REGISTER_R15)
        out = {static_cast<uint8_t>(reg - ZYDIS_REGISTER_RAX), 8, false};
    else
        return false;
    return true;
}

uint64_t read_gpr(const GuestRegisters& regs, GprOperand gpr) {
    const uint64_t full = regs.gpr[gpr.index];
    return gpr.high_byte ? (full >> 8) & 0xFF : full & size_mask(gpr.size);
}

void write_gpr(GuestRegisters& regs, GprOperand gpr, uint64_t value) {
    uint64_t& full = regs.gpr[gpr.index];
    if (gpr.high_byte)
        full = (full & ~0xFF00ULL) | ((value & 0xFF) << 8);
    else if (gpr.size == 4)
        full = value & 0xFFFF'FFFFULL;
    else
        full = (full & ~size_mask(gpr.size)) | (value & size_mask(gpr.size));
}

uint64_t address_mask(const Context& ctx) {
    return size_mask(ctx.instruction.address_width / 8);
}

OperandAddress operand_address(const Context& ctx, const ZydisDecodedOperand& op,
                               int64_t displacement) {
    uint64_t offset =
        static_cast<uint64_t>(op.mem.disp.value) + static_cast<uint64_t>(displacement);
    GprOperand gpr;
    if (op.mem.base == ZYDIS_REGISTER_RIP || op.mem.base == ZYDIS_REGISTER_EIP)
        offset += ctx.next_rip;
    else if (gpr_operand(op.mem.base, gpr))
        offset += read_gpr(ctx.regs, gpr);
    if (gpr_operand(op.mem.index, gpr))
        offset += read_gpr(ctx.regs, gpr) * op.mem.scale;
    return {op.mem.segment, offset & address_mask(ctx)};
}

namespace {

constexpr uint64_t kCr0AlignmentMask = 1ULL << 18;

// Protected-mode segment checks (SDM 5.3, 5.4); real mode only checks the limit.
bool segment_allows(const Context& ctx, const SegmentRegister& segment, uint64_t offset,
                    unsigned size, bool write) {
    const uint16_t attributes = segment.attributes;
    const uint64_t last = offset + size - 1;
    if (ctx.machine_mode == ZYDIS_MACHINE_MODE_REAL_16)
        return last <= segment.limit;
    if (!(attributes & SegmentRegister::kPresent))
        return false;
    if (attributes & SegmentRegister::kCode) {
        if (write || !(attributes & SegmentRegister::kWritableOrReadable))
            return false;
    } else if (write && !(attributes & SegmentRegister::kWritableOrReadable)) {
        return false;
    }
    const bool expand_down = !(attributes & SegmentRegister::kCode) &&
                             (attributes & SegmentRegister::kExpandDownOrConforming);
    if (!expand_down)
        return last <= segment.limit;
    const uint64_t upper = (attributes & SegmentRegister::kDefaultBig) ? 0xFFFF'FFFFULL : 0xFFFF;
    return offset > segment.limit && last <= upper;
}

} // namespace

Flow prepare_access(Context& ctx, OperandAddress address, unsigned size, bool write,
                    MemoryAccess& out) {
    const bool stack = address.segment == ZYDIS_REGISTER_SS;
    const uint8_t segment_fault = stack ? vector::kStackFault : vector::kGeneralProtection;
    if (address.segment < ZYDIS_REGISTER_ES || address.segment > ZYDIS_REGISTER_GS)
        return ctx.refuse("not emulable: memory operand without a segment");
    const SegmentRegister& segment = ctx.regs.segment[address.segment - ZYDIS_REGISTER_ES];
    const mm::GuestPagingState paging = ctx.paging();
    uint64_t linear;
    if (ctx.long64()) {
        // Only FS and GS keep a base in 64-bit mode, and there are no limits - only canonicality.
        const bool based =
            address.segment == ZYDIS_REGISTER_FS || address.segment == ZYDIS_REGISTER_GS;
        linear = (based ? segment.base : 0) + address.offset;
        if (!mm::guest_address_canonical(paging, linear) ||
            !mm::guest_address_canonical(paging, linear + size - 1))
            return ctx.raise_with_code(segment_fault, 0, "non-canonical memory operand");
    } else {
        if (!segment_allows(ctx, segment, address.offset, size, write))
            return ctx.raise_with_code(segment_fault, 0, "segment check failed");
        linear = (segment.base + address.offset) & 0xFFFF'FFFFULL;
    }

    // Alignment checking (CR0.AM, RFLAGS.AC, CPL 3) comes before the page walk, as on the CPU.
    const bool alignment_checked = ctx.cpl == 3 && (ctx.regs.cr0 & kCr0AlignmentMask) &&
                                   (ctx.regs.rflags & rflags::kAlignmentCheck);
    if (alignment_checked && (linear & (size - 1)) != 0)
        return ctx.raise_with_code(vector::kAlignmentCheck, 0, "misaligned access with AC set");

    out.linear = linear;
    out.size = static_cast<uint8_t>(size);
    out.piece_count = 0;
    const mm::GuestAccess access{.write = write,
                                 .user = ctx.cpl == 3,
                                 .rflags_ac = (ctx.regs.rflags & rflags::kAlignmentCheck) != 0};
    unsigned done = 0;
    while (done < size) {
        // Outside long mode the linear address space wraps at 4 GiB.
        uint64_t piece_linear = linear + done;
        if (!ctx.long64())
            piece_linear &= 0xFFFF'FFFFULL;
        const unsigned to_page_end = 4096 - (piece_linear & 0xFFF);
        const unsigned piece = size - done < to_page_end ? size - done : to_page_end;
        const mm::GuestWalkResult walk = TRY(mm::walk_guest_page_tables(
            paging, piece_linear, access, ctx.memory, {ctx.options.set_accessed_dirty}));
        if (walk.status == mm::GuestWalkStatus::page_fault) {
            ctx.outcome.fault_address = piece_linear;
            return ctx.raise_with_code(vector::kPageFault, walk.error_code, "page fault");
        }
        if (walk.status != mm::GuestWalkStatus::ok)
            return ctx.raise_with_code(segment_fault, 0, "non-canonical memory operand");
        out.piece_gpa[out.piece_count] = walk.gpa;
        out.piece_size[out.piece_count] = static_cast<uint8_t>(piece);
        ++out.piece_count;
        done += piece;
    }
    if (!ctx.outcome.has_memory_operand) {
        ctx.outcome.has_memory_operand = true;
        ctx.outcome.memory_linear = linear;
        ctx.outcome.memory_gpa = out.piece_gpa[0];
    }
    return true;
}

// Guest RAM first; what RAM does not back is device memory.
ErrorOr<uint64_t> load(Context& ctx, const MemoryAccess& access) {
    uint64_t value = 0;
    unsigned shift = 0;
    for (unsigned i = 0; i < access.piece_count; ++i) {
        const unsigned size = access.piece_size[i];
        uint64_t piece = 0;
        auto ram = ctx.memory.read(access.piece_gpa[i], &piece, size);
        if (ram.is_error()) {
            if (ram.error().code() != ErrorCode::not_found)
                return ram.release_error();
            piece = TRY(ctx.bus.read(access.piece_gpa[i], size)) & size_mask(size);
        }
        value |= piece << shift;
        shift += size * 8;
    }
    return value;
}

ErrorOr<void> store(Context& ctx, const MemoryAccess& access, uint64_t value) {
    for (unsigned i = 0; i < access.piece_count; ++i) {
        const unsigned size = access.piece_size[i];
        const uint64_t piece = value & size_mask(size);
        auto ram = ctx.memory.write(access.piece_gpa[i], &piece, size);
        if (ram.is_error()) {
            if (ram.error().code() != ErrorCode::not_found)
                return ram.release_error();
            TRY(ctx.bus.write(access.piece_gpa[i], size, piece));
        }
        value = size >= 8 ? 0 : value >> (size * 8);
    }
    return {};
}

Flow prepare_operand(Context& ctx, const ZydisDecodedOperand& op, bool write,
                     MemoryAccess& access) {
    const unsigned size = op.size / 8;
    if (size != 1 && size != 2 && size != 4 && size != 8)
        return ctx.refuse("not emulable: operand size");
    GprOperand gpr;
    switch (op.type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
        if (!gpr_operand(op.reg.value, gpr))
            return ctx.refuse("not emulable: non-GPR register operand");
        return true;
    case ZYDIS_OPERAND_TYPE_MEMORY:
        if (op.mem.type != ZYDIS_MEMOP_TYPE_MEM)
            return ctx.refuse("not emulable: memory operand type");
        return prepare_access(ctx, operand_address(ctx, op), size, write, access);
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        if (write)
            return ctx.refuse("not emulable: immediate destination");
        return true;
    default:
        return ctx.refuse("not emulable: operand type");
    }
}

ErrorOr<uint64_t> read_operand(Context& ctx, const ZydisDecodedOperand& op,
                               const MemoryAccess& access) {
    GprOperand gpr;
    if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && gpr_operand(op.reg.value, gpr))
        return read_gpr(ctx.regs, gpr);
    if (op.type == ZYDIS_OPERAND_TYPE_MEMORY)
        return load(ctx, access);
    // Zydis has already sign-extended signed immediates to 64 bits.
    return op.imm.value.u;
}

ErrorOr<void> write_operand(Context& ctx, const ZydisDecodedOperand& op, const MemoryAccess& access,
                            uint64_t value) {
    GprOperand gpr;
    if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && gpr_operand(op.reg.value, gpr)) {
        write_gpr(ctx.regs, gpr, value);
        return {};
    }
    return store(ctx, access, value);
}

} // namespace halcyon::emulate
