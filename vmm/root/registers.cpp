#include "vmm/root/registers.hpp"

namespace halcyon::vmm::root {
namespace {

constexpr uint64_t kCr0Pe = 1u << 0;
constexpr uint64_t kCr0Nw = 1u << 29;
constexpr uint64_t kCr0Cd = 1u << 30;
constexpr uint64_t kCr0Pg = 1u << 31;
// RFLAGS: bit 1 reads as one; 3, 5, 15 and 22-63 are reserved (zero).
constexpr uint64_t kRflagsFixedOne = 1u << 1;
constexpr uint64_t kRflagsReserved = (1u << 3) | (1u << 5) | (1u << 15) | ~uint64_t{0x3F'FFFF};
constexpr uint64_t kCr3Reserved = ~uint64_t{0} << 52;

// Const or not, as the caller's structure is.
template <typename Registers>
auto* general_register(Registers& regs, uint32_t index) {
    // TLFS order: RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8-R15.
    decltype(&regs.rax) const order[] = {
        &regs.rax, &regs.rcx, &regs.rdx, &regs.rbx, &regs.rsp, &regs.rbp, &regs.rsi, &regs.rdi,
        &regs.r8,  &regs.r9,  &regs.r10, &regs.r11, &regs.r12, &regs.r13, &regs.r14, &regs.r15};
    return order[index];
}

template <typename Registers>
auto* segment_register(Registers& system, uint32_t index) {
    // TLFS order: ES, CS, SS, DS, FS, GS, LDTR, TR.
    decltype(&system.es) const order[] = {&system.es, &system.cs, &system.ss,   &system.ds,
                                          &system.fs, &system.gs, &system.ldtr, &system.tr};
    return order[index];
}

bool valid_pat(uint64_t pat) {
    for (int entry = 0; entry < 8; ++entry) {
        const uint64_t type = (pat >> (entry * 8)) & 0xFF;
        if (type != 0 && type != 1 && type != 4 && type != 5 && type != 6 && type != 7)
            return false;
    }
    return true;
}

RegisterValue value64(uint64_t value) {
    return RegisterValue{value, 0};
}

RegisterValue table_value(const DescriptorTable& table) {
    // hv_x64_table_register: pad[3] (u16), limit (u16), base (u64).
    return RegisterValue{uint64_t{table.limit} << 48, table.base};
}

} // namespace

Status read_register(uint32_t name, const VpRegisterState& state, RegisterValue& value) {
    const GeneralRegisters& regs = state.general;
    const SystemRegisters& system = state.system;
    if (name >= reg::kRax && name <= reg::kR15) {
        value = value64(*general_register(regs, name - reg::kRax));
        return Status::success;
    }
    if (name >= reg::kEs && name <= reg::kTr) {
        uint8_t bytes[size::kRegisterValue];
        encode_segment(*segment_register(system, name - reg::kEs), bytes);
        value.low = load_u64(bytes, 0);
        value.high = load_u64(bytes, 8);
        return Status::success;
    }
    switch (name) {
    case reg::kExplicitSuspend:
        value = value64(state.explicit_suspend ? 1 : 0);
        return Status::success;
    case reg::kRip:
        value = value64(regs.rip);
        return Status::success;
    case reg::kRflags:
        value = value64(regs.rflags);
        return Status::success;
    case reg::kCr0:
        value = value64(system.cr0);
        return Status::success;
    case reg::kCr2:
        value = value64(system.cr2);
        return Status::success;
    case reg::kCr3:
        value = value64(system.cr3);
        return Status::success;
    case reg::kCr4:
        value = value64(system.cr4);
        return Status::success;
    case reg::kIdtr:
        value = table_value(system.idtr);
        return Status::success;
    case reg::kGdtr:
        value = table_value(system.gdtr);
        return Status::success;
    case reg::kEfer:
        value = value64(system.efer);
        return Status::success;
    case reg::kPat:
        value = value64(system.pat);
        return Status::success;
    default:
        return Status::invalid_parameter;
    }
}

Status write_register(uint32_t name, const RegisterValue& value, VpRegisterState& state) {
    GeneralRegisters& regs = state.general;
    SystemRegisters& system = state.system;
    const bool is_segment = name >= reg::kEs && name <= reg::kTr;
    const bool is_table = name == reg::kIdtr || name == reg::kGdtr;
    const bool known = (name >= reg::kRax && name <= reg::kR15) || is_segment || is_table ||
                       name == reg::kExplicitSuspend || name == reg::kRip || name == reg::kRflags ||
                       name == reg::kCr0 || name == reg::kCr2 || name == reg::kCr3 ||
                       name == reg::kCr4 || name == reg::kEfer || name == reg::kPat;
    if (!known)
        return Status::invalid_parameter;
    if (is_segment) {
        uint8_t bytes[size::kRegisterValue];
        store_u64(bytes, 0, value.low);
        store_u64(bytes, 8, value.high);
        Segment segment;
        if (!decode_segment(bytes, segment))
            return Status::invalid_register_value;
        *segment_register(system, name - reg::kEs) = segment;
        if (name == reg::kEs + 2) // SS: the CPL is SS.DPL
            system.cpl = static_cast<uint8_t>((segment.attributes >> 5) & 3);
        return Status::success;
    }
    if (is_table) {
        if ((value.low & 0xFFFF'FFFF'FFFFull) != 0)
            return Status::invalid_register_value; // the three padding words
        DescriptorTable& table = name == reg::kIdtr ? system.idtr : system.gdtr;
        table.limit = static_cast<uint16_t>(value.low >> 48);
        table.base = value.high;
        return Status::success;
    }
    if (value.high != 0)
        return Status::invalid_register_value; // every other register is 64 bits wide
    const uint64_t v = value.low;
    if (name >= reg::kRax && name <= reg::kR15) {
        *general_register(regs, name - reg::kRax) = v;
        return Status::success;
    }
    switch (name) {
    case reg::kExplicitSuspend:
        if (v > 1)
            return Status::invalid_register_value;
        state.explicit_suspend = v == 1;
        return Status::success;
    case reg::kRip:
        regs.rip = v;
        return Status::success;
    case reg::kRflags:
        if ((v & kRflagsReserved) != 0 || (v & kRflagsFixedOne) == 0)
            return Status::invalid_register_value;
        regs.rflags = v;
        return Status::success;
    case reg::kCr0:
        if ((v & ~kCr0Allowed) != 0 || ((v & kCr0Pg) != 0 && (v & kCr0Pe) == 0) ||
            ((v & kCr0Nw) != 0 && (v & kCr0Cd) == 0))
            return Status::invalid_register_value;
        system.cr0 = v;
        return Status::success;
    case reg::kCr2:
        system.cr2 = v;
        return Status::success;
    case reg::kCr3:
        if ((v & kCr3Reserved) != 0)
            return Status::invalid_register_value;
        system.cr3 = v;
        return Status::success;
    case reg::kCr4:
        if ((v & ~kCr4Allowed) != 0)
            return Status::invalid_register_value;
        system.cr4 = v;
        return Status::success;
    case reg::kEfer:
        if ((v & ~kEferAllowed) != 0)
            return Status::invalid_register_value;
        system.efer = v;
        return Status::success;
    case reg::kPat:
        if (!valid_pat(v))
            return Status::invalid_register_value;
        system.pat = v;
        return Status::success;
    default:
        return Status::invalid_parameter;
    }
}

} // namespace halcyon::vmm::root
