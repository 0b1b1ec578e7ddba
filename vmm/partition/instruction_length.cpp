// Instruction lengths for exits whose instruction the hypervisor completes (CPUID, RDMSR,
// WRMSR, PAUSE, dropped writes). SVM reports the next RIP only with NRIP save, which QEMU's TCG
// lacks, so the instruction is fetched through the guest's page tables and decoded with Zydis.
#include "vmm/partition/guest_page_walk.hpp"
#include "vmm/partition/partition.hpp"

#include <Zydis/Decoder.h>

namespace halcyon::vmm {
namespace {

constexpr uint64_t kEferLma = 1ull << 10;
constexpr uint16_t kSegmentLong = 1u << 9;
constexpr uint16_t kSegmentDefault32 = 1u << 10;
constexpr size_t kMaxInstructionLength = 15;

} // namespace

ErrorOr<uint8_t> Partition::instruction_length(uint32_t index) {
    const SystemRegisters system = system_registers(index);
    const uint64_t rip = registers(index).rip;
    const GuestPaging paging{system.cr0, system.cr3, system.cr4, system.efer};
    auto read64 = [this](uint64_t gpa, uint64_t& out) {
        return !read_guest(gpa, &out, sizeof(out)).is_error();
    };

    // CS.base counts outside 64-bit mode only (the CPU treats it as 0 there).
    const bool long_mode = (system.efer & kEferLma) && (system.cs.attributes & kSegmentLong);
    const uint64_t code_base = long_mode ? 0 : system.cs.base;
    // Fetch byte by byte through the translation of each page: an instruction may straddle a
    // page boundary, and the bytes after the end of guest memory are simply not fetched.
    uint8_t bytes[kMaxInstructionLength];
    size_t fetched = 0;
    while (fetched < kMaxInstructionLength) {
        const uint64_t virt = code_base + rip + fetched;
        auto physical = guest_virtual_to_physical(paging, virt, read64);
        if (physical.is_error() || read_guest(physical.value(), &bytes[fetched], 1).is_error())
            break;
        ++fetched;
    }
    if (fetched == 0)
        return Error(ErrorCode::not_found, "cannot fetch the guest's instruction");

    ZydisMachineMode mode = ZYDIS_MACHINE_MODE_LEGACY_16;
    ZydisStackWidth width = ZYDIS_STACK_WIDTH_16;
    if (long_mode) {
        mode = ZYDIS_MACHINE_MODE_LONG_64;
        width = ZYDIS_STACK_WIDTH_64;
    } else if (system.cs.attributes & kSegmentDefault32) {
        mode = (system.efer & kEferLma) ? ZYDIS_MACHINE_MODE_LONG_COMPAT_32
                                        : ZYDIS_MACHINE_MODE_LEGACY_32;
        width = ZYDIS_STACK_WIDTH_32;
    }
    ZydisDecoder decoder;
    ZydisDecodedInstruction instruction;
    if (!ZYAN_SUCCESS(ZydisDecoderInit(&decoder, mode, width)) ||
        !ZYAN_SUCCESS(
            ZydisDecoderDecodeInstruction(&decoder, nullptr, bytes, fetched, &instruction)))
        return Error(ErrorCode::corrupt, "cannot decode the guest's instruction");
    return instruction.length;
}

ErrorOr<void> Partition::skip_instruction(uint32_t index) {
    const uint8_t length = TRY(instruction_length(index));
    registers(index).rip += length;
    return {};
}

} // namespace halcyon::vmm
