// The parameter blocks of the privileged hypercalls and the intercept messages, as bytes: their
// layouts (the structures of Linux's include/hyperv/hvhdk.h, hvhdk_mini.h and hvgdk_mini.h, all
// packed little-endian), decoding with every reserved field checked, and encoding. Pure code:
// the dispatcher copies a block out of the root's memory, decodes it, and never looks at the
// guest's bytes again (a root changing them meanwhile changes nothing).
#pragma once

#include "vmm/cpu_backend.hpp"
#include "vmm/root/abi.hpp"

#include <array>
#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vmm::root {

// --- sizes of the fixed parts (bytes) ---
namespace size {
inline constexpr uint16_t kCreatePartitionInput = 56; // hv_input_create_partition
inline constexpr uint16_t kPartitionIdBlock = 8;      // initialize, delete, output of create
inline constexpr uint16_t kDepositHeader = 8;         // hv_deposit_memory: partition id
inline constexpr uint16_t kWithdrawInput = 16;        // hv_input_withdraw_memory
inline constexpr uint16_t kMapGpaHeader = 24;         // hv_input_map_gpa_pages
inline constexpr uint16_t kUnmapGpaHeader = 24;       // hv_input_unmap_gpa_pages
inline constexpr uint16_t kInstallInterceptInput = 24;
inline constexpr uint16_t kCreateVpInput = 40;        // hv_create_vp
inline constexpr uint16_t kVpRegistersHeader = 16;    // hv_input_{get,set}_vp_registers
inline constexpr uint16_t kRegisterName = 4;          // u32 hv_register_name
inline constexpr uint16_t kRegisterValue = 16;        // hv_register_value
inline constexpr uint16_t kRegisterAssoc = 32;        // hv_register_assoc
inline constexpr uint16_t kAssertInterruptInput = 32; // hv_input_assert_virtual_interrupt
inline constexpr uint16_t kSignalEventDirectInput = 16;
inline constexpr uint16_t kSignalEventDirectOutput = 8;
inline constexpr uint16_t kDispatchVpInput = 32;
inline constexpr uint16_t kDispatchVpOutput = 8;
inline constexpr uint16_t kPageNumber = 8; // a u64 page frame number in a list
// Intercept message payloads (after the 16-byte hv_message_header the SynIC writes).
inline constexpr uint16_t kInterceptHeader = 40; // hv_x64_intercept_message_header
inline constexpr uint16_t kIoPortMessage = 128;  // hv_x64_io_port_intercept_message
inline constexpr uint16_t kCpuidMessage = 104;   // hv_x64_cpuid_intercept_message
} // namespace size

// --- decoded inputs ---
struct CreatePartitionInput {
    uint64_t flags = 0;
    uint32_t compatibility_version = 0;
};
// Checks: the padding word, the disabled-feature banks and the isolation properties are zero
// (Halcyon cannot hide processor features per partition yet, nor isolate one), and the flags
// are a subset of creation::kAccepted.
[[nodiscard]] Status decode_create_partition(std::span<const uint8_t> block,
                                             CreatePartitionInput& out);

// A block whose first u64 is a partition id (initialize, delete, deposit header, withdraw).
[[nodiscard]] uint64_t decode_partition_id(std::span<const uint8_t> block);

struct GpaRangeHeader { // HvMapGpaPages / HvUnmapGpaPages
    uint64_t partition_id = 0;
    uint64_t target_gpa_base = 0; // a page number (GPA >> 12), as the TLFS has it
    uint32_t flags = 0;
};
// Checks: padding zero. Map: only large pages with all of read, write and execute (the nested
// tables map guest RAM RWX, 2 MiB at a time). Unmap: only HV_UNMAP_GPA_LARGE_PAGE.
[[nodiscard]] Status decode_map_gpa_header(std::span<const uint8_t> block, GpaRangeHeader& out);
[[nodiscard]] Status decode_unmap_gpa_header(std::span<const uint8_t> block, GpaRangeHeader& out);

struct InstallInterceptInput {
    uint64_t partition_id = 0;
    uint32_t access_type = 0;
    uint32_t intercept_type = 0;
    uint64_t parameter = 0;
};
// Checks: the type is I/O port (access read and/or write, parameter a 16-bit port), CPUID
// (access execute, parameter a 32-bit leaf) or global CPUID (access execute, parameter 0).
[[nodiscard]] Status decode_install_intercept(std::span<const uint8_t> block,
                                              InstallInterceptInput& out);

struct CreateVpInput {
    uint64_t partition_id = 0;
    uint32_t vp_index = 0;
};
// Checks: padding and flags zero (subnode and proximity are placement hints: ignored).
[[nodiscard]] Status decode_create_vp(std::span<const uint8_t> block, CreateVpInput& out);

struct VpRegistersHeader {
    uint64_t partition_id = 0;
    uint32_t vp_index = 0;
};
// Checks: input VTL 0 (no VTLs) and the reserved bytes zero.
[[nodiscard]] Status decode_vp_registers_header(std::span<const uint8_t> block,
                                                VpRegistersHeader& out);

// One 128-bit hv_register_value.
struct RegisterValue {
    uint64_t low = 0;
    uint64_t high = 0;
};
[[nodiscard]] uint32_t decode_register_name(std::span<const uint8_t> element);
struct RegisterAssoc {
    uint32_t name = 0;
    RegisterValue value;
};
// Checks: the two reserved fields zero.
[[nodiscard]] Status decode_register_assoc(std::span<const uint8_t> element, RegisterAssoc& out);
void encode_register_value(const RegisterValue& value, std::span<uint8_t> out);

struct AssertInterruptInput {
    uint64_t partition_id = 0;
    uint32_t interrupt_type = 0;
    bool level_triggered = false;
    bool logical_destination = false;
    uint64_t destination = 0; // an APIC ID (or a logical destination)
    uint32_t vector = 0;
};
// Checks: type fixed, lowest priority, NMI, INIT or SIPI; control and target VTL reserved bits
// zero; a vector of 16-255 for fixed and lowest priority; a destination that fits 32 bits.
[[nodiscard]] Status decode_assert_interrupt(std::span<const uint8_t> block,
                                             AssertInterruptInput& out);

struct SignalEventDirectInput {
    uint64_t partition_id = 0;
    uint32_t vp_index = 0;
    uint8_t sint = 0;
    uint16_t flag_number = 0;
};
// Checks: target VTL 0, SINT below 16, flag number below 2048 (a SINT's event flags).
[[nodiscard]] Status decode_signal_event_direct(std::span<const uint8_t> block,
                                                SignalEventDirectInput& out);

struct DispatchVpInput {
    uint64_t partition_id = 0;
    uint32_t vp_index = 0;
    uint32_t flags = 0;
    uint64_t time_slice = 0; // 100 ns units; 0: no limit of the caller's own
};
// Checks: flags within dispatch::kAcceptedFlags, spec_ctrl zero (not offered).
[[nodiscard]] Status decode_dispatch_vp(std::span<const uint8_t> block, DispatchVpInput& out);
void encode_dispatch_vp_output(uint32_t state, uint32_t event, std::span<uint8_t> out);

void encode_u64(uint64_t value, std::span<uint8_t> out);

// --- intercept messages ---
// hv_x64_intercept_message_header: who, where, and the processor state around the intercept.
struct InterceptHeader {
    uint32_t vp_index = 0;
    uint8_t instruction_length = 0; // 4 bits
    uint8_t access_type = 0;        // access::k*
    uint64_t rip = 0;
    uint64_t rflags = 0;
    uint64_t cr0 = 0;
    uint64_t efer = 0;
    uint8_t cpl = 0;
    Segment cs;
};
// The header of a vCPU's intercept (cpu_backend.hpp's register structures in, TLFS fields out).
[[nodiscard]] InterceptHeader intercept_header(uint32_t vp_index, const GeneralRegisters& regs,
                                               const SystemRegisters& system,
                                               uint8_t instruction_length, uint8_t access_type);

void encode_intercept_header(const InterceptHeader& header, std::span<uint8_t> out);
[[nodiscard]] std::array<uint8_t, size::kIoPortMessage>
encode_io_port_message(const InterceptHeader& header, const IoExit& io,
                       const GeneralRegisters& regs, const SystemRegisters& system);
struct CpuidResult {
    uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};
[[nodiscard]] std::array<uint8_t, size::kCpuidMessage>
encode_cpuid_message(const InterceptHeader& header, const GeneralRegisters& regs,
                     const CpuidResult& default_result);

// hv_x64_segment_register (base, limit, selector, attributes) <-> cpu_backend.hpp's Segment,
// whose attributes are the SVM VMCB's packed 12 bits. TLFS attribute bits 8-11 are reserved.
void encode_segment(const Segment& segment, std::span<uint8_t> out);
[[nodiscard]] bool decode_segment(std::span<const uint8_t> in, Segment& out);
[[nodiscard]] uint16_t tlfs_attributes(uint16_t packed);

// Little-endian access to parameter blocks (callers check the span size).
[[nodiscard]] uint64_t load_u64(std::span<const uint8_t> bytes, size_t offset);
[[nodiscard]] uint32_t load_u32(std::span<const uint8_t> bytes, size_t offset);
[[nodiscard]] uint16_t load_u16(std::span<const uint8_t> bytes, size_t offset);
void store_u64(std::span<uint8_t> bytes, size_t offset, uint64_t value);
void store_u32(std::span<uint8_t> bytes, size_t offset, uint32_t value);
void store_u16(std::span<uint8_t> bytes, size_t offset, uint16_t value);

} // namespace halcyon::vmm::root
