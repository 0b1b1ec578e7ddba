// The privileged calls' parameter blocks and intercept messages (vmm/root/codec.hpp): every
// reserved field of every input refused, the layouts of Linux's hvhdk/hvgdk headers byte for
// byte, and the messages a root reads from SINT 0.
#include "vmm/root/codec.hpp"

#include <array>
#include <gtest/gtest.h>
#include <vector>

namespace halcyon::vmm::root {
namespace {

std::vector<uint8_t> block(size_t size) {
    return std::vector<uint8_t>(size, 0);
}

template <typename T>
void put(std::vector<uint8_t>& bytes, size_t offset, T value) {
    for (size_t i = 0; i < sizeof(T); ++i)
        bytes[offset + i] = static_cast<uint8_t>(static_cast<uint64_t>(value) >> (8 * i));
}

TEST(RootCodec, CreatePartitionFlagsAndReservedFields) {
    auto b = block(size::kCreatePartitionInput);
    CreatePartitionInput in;
    EXPECT_EQ(decode_create_partition(b, in), Status::success);
    put<uint64_t>(b, 0, creation::kLapicEnabled | creation::kX2ApicCapable);
    put<uint32_t>(b, 16, 0x0609);
    put<uint64_t>(b, 8, 0xFFFF'FFFF'FFFF'FFFFull); // proximity: a hint, anything goes
    ASSERT_EQ(decode_create_partition(b, in), Status::success);
    EXPECT_EQ(in.flags, creation::kLapicEnabled | creation::kX2ApicCapable);
    EXPECT_EQ(in.compatibility_version, 0x0609u);

    for (size_t offset : {20u, 24u, 32u, 40u, 48u, 55u}) {
        auto bad = b;
        bad[offset] = 1;
        EXPECT_EQ(decode_create_partition(bad, in), Status::invalid_parameter) << offset;
    }
    auto page = b;
    put<uint64_t>(page, 0, creation::kInterceptMessagePageEnabled);
    EXPECT_EQ(decode_create_partition(page, in), Status::invalid_parameter);
    put<uint64_t>(page, 0, uint64_t{1} << 8);
    EXPECT_EQ(decode_create_partition(page, in), Status::invalid_parameter);
}

TEST(RootCodec, MapAndUnmapHeaders) {
    auto b = block(size::kMapGpaHeader);
    put<uint64_t>(b, 0, 2);
    put<uint64_t>(b, 8, 0x200);
    put<uint32_t>(b, 16, 0x8000'000F);
    GpaRangeHeader h;
    ASSERT_EQ(decode_map_gpa_header(b, h), Status::success);
    EXPECT_EQ(h.partition_id, 2u);
    EXPECT_EQ(h.target_gpa_base, 0x200u);
    // Only large pages, readable, writable and executable.
    for (uint32_t flags : {0x0000'000Fu, 0x8000'0003u, 0x8000'0007u, 0x8000'800Fu, 0x8001'000Fu,
                           0x8020'000Fu, 0x8000'0000u}) {
        put<uint32_t>(b, 16, flags);
        EXPECT_EQ(decode_map_gpa_header(b, h), Status::invalid_parameter) << std::hex << flags;
    }
    put<uint32_t>(b, 16, 0x8000'000F);
    put<uint32_t>(b, 20, 1);
    EXPECT_EQ(decode_map_gpa_header(b, h), Status::invalid_parameter); // padding

    auto u = block(size::kUnmapGpaHeader);
    put<uint32_t>(u, 16, map_flags::kUnmapLargePage);
    EXPECT_EQ(decode_unmap_gpa_header(u, h), Status::success);
    put<uint32_t>(u, 16, 0);
    EXPECT_EQ(decode_unmap_gpa_header(u, h), Status::invalid_parameter);
    put<uint32_t>(u, 16, 0x3);
    EXPECT_EQ(decode_unmap_gpa_header(u, h), Status::invalid_parameter);
}

TEST(RootCodec, InstallIntercept) {
    auto b = block(size::kInstallInterceptInput);
    InstallInterceptInput in;
    auto with = [&](uint32_t access, uint32_t type, uint64_t parameter) {
        put<uint32_t>(b, 8, access);
        put<uint32_t>(b, 12, type);
        put<uint64_t>(b, 16, parameter);
        return decode_install_intercept(b, in);
    };
    EXPECT_EQ(with(intercept::kAccessExecute, intercept::kTypeCpuid, 0x4000'0000), Status::success);
    EXPECT_EQ(in.parameter, 0x4000'0000u);
    EXPECT_EQ(with(intercept::kAccessRead, intercept::kTypeCpuid, 1), Status::invalid_parameter);
    EXPECT_EQ(with(intercept::kAccessExecute, intercept::kTypeCpuid, 1ull << 32),
              Status::invalid_parameter);
    EXPECT_EQ(with(intercept::kAccessExecute, intercept::kTypeGlobalCpuid, 0), Status::success);
    EXPECT_EQ(with(intercept::kAccessExecute, intercept::kTypeGlobalCpuid, 1),
              Status::invalid_parameter);
    EXPECT_EQ(with(3, intercept::kTypeIoPort, 0xFFFF), Status::success);
    EXPECT_EQ(with(0, intercept::kTypeIoPort, 0x80), Status::invalid_parameter);
    EXPECT_EQ(with(4, intercept::kTypeIoPort, 0x80), Status::invalid_parameter);
    EXPECT_EQ(with(1, intercept::kTypeIoPort, 0x10000), Status::invalid_parameter);
    for (uint32_t type : {1u, 3u, 4u, 5u, 7u, 8u, 0xFFFF'FFFFu})
        EXPECT_EQ(with(1, type, 0), Status::invalid_parameter) << type;
}

TEST(RootCodec, CreateVpAndRegisterHeaders) {
    auto b = block(size::kCreateVpInput);
    put<uint64_t>(b, 0, 3);
    put<uint32_t>(b, 8, 1);
    b[15] = 0xFF;                 // subnode type: a hint
    put<uint64_t>(b, 16, 0x1234); // subnode id: a hint
    CreateVpInput vp;
    ASSERT_EQ(decode_create_vp(b, vp), Status::success);
    EXPECT_EQ(vp.partition_id, 3u);
    EXPECT_EQ(vp.vp_index, 1u);
    for (size_t offset : {12u, 13u, 14u, 32u, 39u}) {
        auto bad = b;
        bad[offset] = 1;
        EXPECT_EQ(decode_create_vp(bad, vp), Status::invalid_parameter) << offset;
    }

    auto h = block(size::kVpRegistersHeader);
    put<uint64_t>(h, 0, 2);
    put<uint32_t>(h, 8, 5);
    VpRegistersHeader header;
    ASSERT_EQ(decode_vp_registers_header(h, header), Status::success);
    EXPECT_EQ(header.vp_index, 5u);
    for (size_t offset : {12u, 13u, 14u, 15u}) {
        auto bad = h;
        bad[offset] = 0x10;
        EXPECT_EQ(decode_vp_registers_header(bad, header), Status::invalid_parameter) << offset;
    }

    auto a = block(size::kRegisterAssoc);
    put<uint32_t>(a, 0, 0x0002'0010);
    put<uint64_t>(a, 16, 0x1122'3344'5566'7788ull);
    put<uint64_t>(a, 24, 0x99);
    RegisterAssoc assoc;
    ASSERT_EQ(decode_register_assoc(a, assoc), Status::success);
    EXPECT_EQ(assoc.name, 0x0002'0010u);
    EXPECT_EQ(assoc.value.low, 0x1122'3344'5566'7788ull);
    EXPECT_EQ(assoc.value.high, 0x99u);
    for (size_t offset : {4u, 8u, 15u}) {
        auto bad = a;
        bad[offset] = 1;
        EXPECT_EQ(decode_register_assoc(bad, assoc), Status::invalid_parameter) << offset;
    }
}

TEST(RootCodec, AssertVirtualInterrupt) {
    auto b = block(size::kAssertInterruptInput);
    AssertInterruptInput in;
    auto with = [&](uint32_t type, uint32_t bits, uint64_t destination, uint32_t vector) {
        put<uint32_t>(b, 8, type);
        put<uint32_t>(b, 12, bits);
        put<uint64_t>(b, 16, destination);
        put<uint32_t>(b, 24, vector);
        return decode_assert_interrupt(b, in);
    };
    EXPECT_EQ(with(interrupt_type::kFixed, 0, 0, 0x40), Status::success);
    EXPECT_EQ(with(interrupt_type::kLowestPriority, 3, 0xFFFF'FFFF, 0xFF), Status::success);
    EXPECT_TRUE(in.level_triggered);
    EXPECT_TRUE(in.logical_destination);
    EXPECT_EQ(with(interrupt_type::kFixed, 0, 0, 15), Status::invalid_parameter);
    EXPECT_EQ(with(interrupt_type::kFixed, 0, 0, 0x100), Status::invalid_parameter);
    EXPECT_EQ(with(interrupt_type::kNmi, 0, 0, 2), Status::success);
    EXPECT_EQ(with(interrupt_type::kSipi, 0, 0, 0x10), Status::success);
    EXPECT_EQ(with(interrupt_type::kInit, 0, 0, 0), Status::success);
    EXPECT_EQ(with(2 /* SMI */, 0, 0, 0x40), Status::invalid_parameter);
    EXPECT_EQ(with(7 /* ExtINT */, 0, 0, 0x40), Status::invalid_parameter);
    EXPECT_EQ(with(interrupt_type::kFixed, 4, 0, 0x40), Status::invalid_parameter);
    EXPECT_EQ(with(interrupt_type::kFixed, 0, 1ull << 32, 0x40), Status::invalid_parameter);
    with(interrupt_type::kFixed, 0, 0, 0x40);
    for (size_t offset : {28u, 29u, 31u}) {
        auto bad = b;
        bad[offset] = 1;
        EXPECT_EQ(decode_assert_interrupt(bad, in), Status::invalid_parameter) << offset;
    }
}

TEST(RootCodec, SignalEventDirectAndDispatchVp) {
    auto s = block(size::kSignalEventDirectInput);
    put<uint64_t>(s, 0, 2);
    put<uint32_t>(s, 8, 1);
    s[13] = 15;
    put<uint16_t>(s, 14, 2047);
    SignalEventDirectInput signal;
    ASSERT_EQ(decode_signal_event_direct(s, signal), Status::success);
    EXPECT_EQ(signal.sint, 15);
    EXPECT_EQ(signal.flag_number, 2047);
    s[13] = 16;
    EXPECT_EQ(decode_signal_event_direct(s, signal), Status::invalid_parameter);
    s[13] = 0;
    put<uint16_t>(s, 14, 2048);
    EXPECT_EQ(decode_signal_event_direct(s, signal), Status::invalid_parameter);
    put<uint16_t>(s, 14, 0);
    s[12] = 1; // VTL 1
    EXPECT_EQ(decode_signal_event_direct(s, signal), Status::invalid_parameter);

    auto d = block(size::kDispatchVpInput);
    put<uint64_t>(d, 0, 2);
    put<uint32_t>(d, 8, 0);
    put<uint32_t>(d, 12, dispatch::kFlagSkipVpSpecFlush | dispatch::kFlagClearInterceptSuspend);
    put<uint64_t>(d, 16, 100'000);
    DispatchVpInput vp;
    ASSERT_EQ(decode_dispatch_vp(d, vp), Status::success);
    EXPECT_EQ(vp.time_slice, 100'000u);
    put<uint32_t>(d, 12, 0x2); // ENABLE_CALLER_INTERRUPTS: not offered
    EXPECT_EQ(decode_dispatch_vp(d, vp), Status::invalid_parameter);
    put<uint32_t>(d, 12, 0);
    put<uint64_t>(d, 24, 1); // spec_ctrl
    EXPECT_EQ(decode_dispatch_vp(d, vp), Status::invalid_parameter);

    std::array<uint8_t, size::kDispatchVpOutput> out{};
    encode_dispatch_vp_output(dispatch::kStateReady, dispatch::kEventIntercept, out);
    EXPECT_EQ(out, (std::array<uint8_t, 8>{2, 0, 0, 0, 2, 0, 0, 0}));
}

TEST(RootCodec, SegmentsBetweenTlfsAndPackedAttributes) {
    // A 64-bit code segment: descriptor access byte 0x9B, flags L and G.
    const Segment code{0x08, 0xA9B, 0xFFFF'FFFF, 0x1000};
    EXPECT_EQ(tlfs_attributes(code.attributes), 0xA09B);
    std::array<uint8_t, 16> bytes{};
    encode_segment(code, bytes);
    EXPECT_EQ(load_u64(bytes, 0), 0x1000u);
    EXPECT_EQ(load_u32(bytes, 8), 0xFFFF'FFFFu);
    EXPECT_EQ(load_u16(bytes, 12), 0x08);
    EXPECT_EQ(load_u16(bytes, 14), 0xA09B);
    Segment back;
    ASSERT_TRUE(decode_segment(bytes, back));
    EXPECT_EQ(back.attributes, code.attributes);
    EXPECT_EQ(back.selector, code.selector);
    EXPECT_EQ(back.limit, code.limit);
    EXPECT_EQ(back.base, code.base);
    store_u16(bytes, 14, 0xA19B); // reserved bit 8
    EXPECT_FALSE(decode_segment(bytes, back));
}

GeneralRegisters sample_registers() {
    GeneralRegisters regs{};
    regs.rax = 0xC0FFEE01;
    regs.rbx = 0xBB;
    regs.rcx = 0xCC;
    regs.rdx = 0x520;
    regs.rsi = 0x51;
    regs.rdi = 0xD1;
    regs.rip = 0x900A;
    regs.rflags = 0x246;
    return regs;
}

SystemRegisters sample_system() {
    SystemRegisters system{};
    system.cr0 = 0x8005'0033; // PE, AM, PG
    system.efer = 0xD00;      // LMA
    system.cpl = 3;
    system.cs = Segment{0x2B, 0xAFB, 0xFFFF'FFFF, 0};
    system.ds = Segment{0x10, 0xC93, 0xFFFF'FFFF, 0x100};
    system.es = Segment{0x18, 0xC93, 0xFFFF, 0x200};
    return system;
}

TEST(RootCodec, InterceptHeaderLayout) {
    const InterceptHeader header =
        intercept_header(3, sample_registers(), sample_system(), 1, access::kWrite);
    std::array<uint8_t, size::kInterceptHeader> bytes{};
    encode_intercept_header(header, bytes);
    EXPECT_EQ(load_u32(bytes, 0), 3u);
    EXPECT_EQ(bytes[4], 1);
    EXPECT_EQ(bytes[5], access::kWrite);
    EXPECT_EQ(load_u16(bytes, 6), 3 | (1 << 2) | (1 << 3) | (1 << 4)); // CPL, PE, AM, LMA
    EXPECT_EQ(load_u16(bytes, 8 + 12), 0x2B);
    EXPECT_EQ(load_u16(bytes, 8 + 14), 0xA0FB);
    EXPECT_EQ(load_u64(bytes, 24), 0x900Au);
    EXPECT_EQ(load_u64(bytes, 32), 0x246u);
}

TEST(RootCodec, IoPortMessageLayout) {
    const GeneralRegisters regs = sample_registers();
    const SystemRegisters system = sample_system();
    const IoExit io{
        .port = 0x520, .size = 4, .in = false, .string = true, .repeat = true, .next_rip = 0x900B};
    const auto m = encode_io_port_message(intercept_header(0, regs, system, 1, access::kWrite), io,
                                          regs, system);
    EXPECT_EQ(load_u16(m, 40), 0x520);
    EXPECT_EQ(m[42], 4 | 8 | 16);
    EXPECT_EQ(m[43], 0);
    EXPECT_EQ(load_u64(m, 48), 0xC0FFEE01u);
    EXPECT_EQ(load_u64(m, 72), 0x100u); // DS base
    EXPECT_EQ(load_u16(m, 72 + 12), 0x10);
    EXPECT_EQ(load_u64(m, 88), 0x200u); // ES base
    EXPECT_EQ(load_u64(m, 104), 0xCCu);
    EXPECT_EQ(load_u64(m, 112), 0x51u);
    EXPECT_EQ(load_u64(m, 120), 0xD1u);
}

TEST(RootCodec, CpuidMessageLayout) {
    GeneralRegisters regs = sample_registers();
    regs.rax = 0x1337'0000;
    regs.rcx = 2;
    const auto m =
        encode_cpuid_message(intercept_header(0, regs, sample_system(), 2, access::kExecute), regs,
                             CpuidResult{0xA, 0xB, 0xC, 0xD});
    EXPECT_EQ(load_u64(m, 40), 0x1337'0000u);
    EXPECT_EQ(load_u64(m, 48), 2u);
    EXPECT_EQ(load_u64(m, 56), 0x520u);
    EXPECT_EQ(load_u64(m, 64), 0xBBu);
    EXPECT_EQ(load_u64(m, 72), 0xAu);
    EXPECT_EQ(load_u64(m, 80), 0xCu);
    EXPECT_EQ(load_u64(m, 88), 0xDu);
    EXPECT_EQ(load_u64(m, 96), 0xBu);
    EXPECT_EQ(m[4], 2);
}

} // namespace
} // namespace halcyon::vmm::root
