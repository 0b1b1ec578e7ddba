#include "vmm/root/codec.hpp"

#include <string.h>

namespace halcyon::vmm::root {
namespace {

constexpr uint64_t kCr0ProtectionEnable = 1u << 0;
constexpr uint64_t kCr0AlignmentMask = 1u << 18;
constexpr uint64_t kEferLongModeActive = 1u << 10;
constexpr uint32_t kSintCount = 16;
constexpr uint32_t kEventFlagsPerSint = 2048;

bool all_zero(std::span<const uint8_t> bytes) {
    for (uint8_t byte : bytes) {
        if (byte != 0)
            return false;
    }
    return true;
}

} // namespace

uint64_t load_u64(std::span<const uint8_t> bytes, size_t offset) {
    uint64_t value;
    memcpy(&value, bytes.data() + offset, sizeof(value));
    return value;
}

uint32_t load_u32(std::span<const uint8_t> bytes, size_t offset) {
    uint32_t value;
    memcpy(&value, bytes.data() + offset, sizeof(value));
    return value;
}

uint16_t load_u16(std::span<const uint8_t> bytes, size_t offset) {
    uint16_t value;
    memcpy(&value, bytes.data() + offset, sizeof(value));
    return value;
}

void store_u64(std::span<uint8_t> bytes, size_t offset, uint64_t value) {
    memcpy(bytes.data() + offset, &value, sizeof(value));
}

void store_u32(std::span<uint8_t> bytes, size_t offset, uint32_t value) {
    memcpy(bytes.data() + offset, &value, sizeof(value));
}

void store_u16(std::span<uint8_t> bytes, size_t offset, uint16_t value) {
    memcpy(bytes.data() + offset, &value, sizeof(value));
}

Status decode_create_partition(std::span<const uint8_t> block, CreatePartitionInput& out) {
    // 0 flags, 8 proximity domain (a placement hint), 16 compatibility version, 20 padding,
    // 24 disabled processor features (2 banks), 40 disabled XSAVE features, 48 isolation.
    out.flags = load_u64(block, 0);
    out.compatibility_version = load_u32(block, 16);
    if (load_u32(block, 20) != 0)
        return Status::invalid_parameter;
    if (!all_zero(block.subspan(24, 32)))
        return Status::invalid_parameter;
    if ((out.flags & ~creation::kAccepted) != 0)
        return Status::invalid_parameter;
    return Status::success;
}

uint64_t decode_partition_id(std::span<const uint8_t> block) {
    return load_u64(block, 0);
}

namespace {

Status decode_gpa_range_header(std::span<const uint8_t> block, GpaRangeHeader& out) {
    out.partition_id = load_u64(block, 0);
    out.target_gpa_base = load_u64(block, 8);
    out.flags = load_u32(block, 16);
    return load_u32(block, 20) == 0 ? Status::success : Status::invalid_parameter;
}

} // namespace

Status decode_map_gpa_header(std::span<const uint8_t> block, GpaRangeHeader& out) {
    const Status status = decode_gpa_range_header(block, out);
    if (status != Status::success)
        return status;
    constexpr uint32_t kRwx = map_flags::kReadable | map_flags::kWritable | map_flags::kExecutable;
    if (out.flags != (map_flags::kLargePage | kRwx))
        return Status::invalid_parameter;
    return Status::success;
}

Status decode_unmap_gpa_header(std::span<const uint8_t> block, GpaRangeHeader& out) {
    const Status status = decode_gpa_range_header(block, out);
    if (status != Status::success)
        return status;
    return out.flags == map_flags::kUnmapLargePage ? Status::success : Status::invalid_parameter;
}

Status decode_install_intercept(std::span<const uint8_t> block, InstallInterceptInput& out) {
    out.partition_id = load_u64(block, 0);
    out.access_type = load_u32(block, 8);
    out.intercept_type = load_u32(block, 12);
    out.parameter = load_u64(block, 16);
    switch (out.intercept_type) {
    case intercept::kTypeIoPort: {
        constexpr uint32_t kReadWrite = intercept::kAccessRead | intercept::kAccessWrite;
        if (out.access_type == 0 || (out.access_type & ~kReadWrite) != 0 || out.parameter > 0xFFFF)
            return Status::invalid_parameter;
        return Status::success;
    }
    case intercept::kTypeCpuid:
        if (out.access_type != intercept::kAccessExecute || out.parameter > 0xFFFF'FFFF)
            return Status::invalid_parameter;
        return Status::success;
    case intercept::kTypeGlobalCpuid:
        if (out.access_type != intercept::kAccessExecute || out.parameter != 0)
            return Status::invalid_parameter;
        return Status::success;
    default:
        return Status::invalid_parameter;
    }
}

Status decode_create_vp(std::span<const uint8_t> block, CreateVpInput& out) {
    // 0 partition id, 8 vp index, 12 padding[3], 15 subnode type, 16 subnode id,
    // 24 proximity domain, 32 flags.
    out.partition_id = load_u64(block, 0);
    out.vp_index = load_u32(block, 8);
    if (!all_zero(block.subspan(12, 3)) || load_u64(block, 32) != 0)
        return Status::invalid_parameter;
    return Status::success;
}

Status decode_vp_registers_header(std::span<const uint8_t> block, VpRegistersHeader& out) {
    out.partition_id = load_u64(block, 0);
    out.vp_index = load_u32(block, 8);
    // 12 input VTL, 13 reserved u8, 14 reserved u16.
    return all_zero(block.subspan(12, 4)) ? Status::success : Status::invalid_parameter;
}

uint32_t decode_register_name(std::span<const uint8_t> element) {
    return load_u32(element, 0);
}

Status decode_register_assoc(std::span<const uint8_t> element, RegisterAssoc& out) {
    out.name = load_u32(element, 0);
    out.value.low = load_u64(element, 16);
    out.value.high = load_u64(element, 24);
    if (load_u32(element, 4) != 0 || load_u64(element, 8) != 0)
        return Status::invalid_parameter;
    return Status::success;
}

void encode_register_value(const RegisterValue& value, std::span<uint8_t> out) {
    store_u64(out, 0, value.low);
    store_u64(out, 8, value.high);
}

Status decode_assert_interrupt(std::span<const uint8_t> block, AssertInterruptInput& out) {
    // 0 partition id, 8 control (u32 type, u32 bits: 0 level, 1 logical), 16 destination,
    // 24 vector, 28 target VTL, 29 reserved u8, 30 reserved u16.
    out.partition_id = load_u64(block, 0);
    out.interrupt_type = load_u32(block, 8);
    const uint32_t bits = load_u32(block, 12);
    out.level_triggered = (bits & 1) != 0;
    out.logical_destination = (bits & 2) != 0;
    out.destination = load_u64(block, 16);
    out.vector = load_u32(block, 24);
    if ((bits & ~3u) != 0 || !all_zero(block.subspan(28, 4)))
        return Status::invalid_parameter;
    if (out.destination > 0xFFFF'FFFF || out.vector > 0xFF)
        return Status::invalid_parameter;
    switch (out.interrupt_type) {
    case interrupt_type::kFixed:
    case interrupt_type::kLowestPriority:
        // Vectors 0-15 are exceptions and reserved: a local APIC refuses them as well.
        return out.vector >= 16 ? Status::success : Status::invalid_parameter;
    case interrupt_type::kNmi:
    case interrupt_type::kInit:
    case interrupt_type::kSipi:
        return Status::success;
    default:
        return Status::invalid_parameter;
    }
}

Status decode_signal_event_direct(std::span<const uint8_t> block, SignalEventDirectInput& out) {
    // 0 target partition, 8 target vp, 12 target VTL, 13 SINT, 14 flag number.
    out.partition_id = load_u64(block, 0);
    out.vp_index = load_u32(block, 8);
    out.sint = block[13];
    out.flag_number = load_u16(block, 14);
    if (block[12] != 0 || out.sint >= kSintCount || out.flag_number >= kEventFlagsPerSint)
        return Status::invalid_parameter;
    return Status::success;
}

Status decode_dispatch_vp(std::span<const uint8_t> block, DispatchVpInput& out) {
    // 0 partition id, 8 vp index, 12 flags, 16 time slice, 24 spec_ctrl.
    out.partition_id = load_u64(block, 0);
    out.vp_index = load_u32(block, 8);
    out.flags = load_u32(block, 12);
    out.time_slice = load_u64(block, 16);
    if ((out.flags & ~dispatch::kAcceptedFlags) != 0 || load_u64(block, 24) != 0)
        return Status::invalid_parameter;
    return Status::success;
}

void encode_dispatch_vp_output(uint32_t state, uint32_t event, std::span<uint8_t> out) {
    store_u32(out, 0, state);
    store_u32(out, 4, event);
}

void encode_u64(uint64_t value, std::span<uint8_t> out) {
    store_u64(out, 0, value);
}

uint16_t tlfs_attributes(uint16_t packed) {
    // Packed: descriptor bits 8-15 in 0-7, bits 20-23 (AVL, L, D/B, G) in 8-11. TLFS: the same
    // low byte, AVL/L/D/G in 12-15, 8-11 reserved.
    return static_cast<uint16_t>((packed & 0xFF) | ((packed & 0xF00) << 4));
}

void encode_segment(const Segment& segment, std::span<uint8_t> out) {
    store_u64(out, 0, segment.base);
    store_u32(out, 8, segment.limit);
    store_u16(out, 12, segment.selector);
    store_u16(out, 14, tlfs_attributes(segment.attributes));
}

bool decode_segment(std::span<const uint8_t> in, Segment& out) {
    const uint16_t attributes = load_u16(in, 14);
    if ((attributes & 0x0F00) != 0)
        return false;
    out.base = load_u64(in, 0);
    out.limit = load_u32(in, 8);
    out.selector = load_u16(in, 12);
    out.attributes = static_cast<uint16_t>((attributes & 0xFF) | ((attributes >> 4) & 0xF00));
    return true;
}

InterceptHeader intercept_header(uint32_t vp_index, const GeneralRegisters& regs,
                                 const SystemRegisters& system, uint8_t instruction_length,
                                 uint8_t access_type) {
    InterceptHeader header;
    header.vp_index = vp_index;
    header.instruction_length = instruction_length;
    header.access_type = access_type;
    header.rip = regs.rip;
    header.rflags = regs.rflags;
    header.cr0 = system.cr0;
    header.efer = system.efer;
    header.cpl = system.cpl;
    header.cs = system.cs;
    return header;
}

void encode_intercept_header(const InterceptHeader& header, std::span<uint8_t> out) {
    // 0 vp index, 4 instruction length (bits 3:0) and CR8 (7:4), 5 access type, 6 execution
    // state (1:0 CPL, 2 CR0.PE, 3 CR0.AM, 4 EFER.LMA, the rest 0: no debug, no pending
    // interruption reported, VTL 0), 8 CS, 24 RIP, 32 RFLAGS.
    store_u32(out, 0, header.vp_index);
    out[4] = header.instruction_length & 0xF;
    out[5] = header.access_type;
    uint16_t state = header.cpl & 3;
    if ((header.cr0 & kCr0ProtectionEnable) != 0)
        state |= 1u << 2;
    if ((header.cr0 & kCr0AlignmentMask) != 0)
        state |= 1u << 3;
    if ((header.efer & kEferLongModeActive) != 0)
        state |= 1u << 4;
    store_u16(out, 6, state);
    encode_segment(header.cs, out.subspan(8, 16));
    store_u64(out, 24, header.rip);
    store_u64(out, 32, header.rflags);
}

std::array<uint8_t, size::kIoPortMessage> encode_io_port_message(const InterceptHeader& header,
                                                                 const IoExit& io,
                                                                 const GeneralRegisters& regs,
                                                                 const SystemRegisters& system) {
    std::array<uint8_t, size::kIoPortMessage> message{};
    encode_intercept_header(header, message);
    // 40 port, 42 access info (2:0 size, 3 string, 4 REP), 43 instruction byte count (none
    // reported), 44 reserved, 48 RAX, 56 instruction bytes, 72 DS, 88 ES, 104 RCX, 112 RSI,
    // 120 RDI.
    store_u16(message, 40, io.port);
    message[42] = static_cast<uint8_t>((io.size & 7) | (io.string ? 8 : 0) | (io.repeat ? 16 : 0));
    store_u64(message, 48, regs.rax);
    encode_segment(system.ds, std::span(message).subspan(72, 16));
    encode_segment(system.es, std::span(message).subspan(88, 16));
    store_u64(message, 104, regs.rcx);
    store_u64(message, 112, regs.rsi);
    store_u64(message, 120, regs.rdi);
    return message;
}

std::array<uint8_t, size::kCpuidMessage> encode_cpuid_message(const InterceptHeader& header,
                                                              const GeneralRegisters& regs,
                                                              const CpuidResult& default_result) {
    std::array<uint8_t, size::kCpuidMessage> message{};
    encode_intercept_header(header, message);
    // 40 RAX, 48 RCX, 56 RDX, 64 RBX as the guest had them, 72.. the default results in the
    // same order: what the vCPU would have got without the intercept.
    store_u64(message, 40, regs.rax);
    store_u64(message, 48, regs.rcx);
    store_u64(message, 56, regs.rdx);
    store_u64(message, 64, regs.rbx);
    store_u64(message, 72, default_result.eax);
    store_u64(message, 80, default_result.ecx);
    store_u64(message, 88, default_result.edx);
    store_u64(message, 96, default_result.ebx);
    return message;
}

} // namespace halcyon::vmm::root
