// Instruction lengths for exits whose instruction the hypervisor completes (CPUID, RDMSR,
// WRMSR, PAUSE, dropped writes). SVM reports the next RIP only with NRIP save, which QEMU's TCG
// lacks, so the instruction is fetched through the guest's page tables and decoded with Zydis.
#include "mm/guest_page_walk.hpp"
#include "vmm/partition/partition.hpp"

#include <Zydis/Decoder.h>

namespace halcyon::vmm {
namespace {

constexpr uint64_t kEferLma = 1ull << 10;
constexpr uint16_t kSegmentLong = 1u << 9;
constexpr uint16_t kSegmentDefault32 = 1u << 10;
constexpr size_t kMaxInstructionLength = 15;

// The partition's memory as the shared guest page walker reads it. Read-only: fetching an
// instruction must not change the guest's tables (no Accessed/Dirty updates either).
class PartitionMemory final : public mm::GuestPhysicalMemory {
public:
    explicit PartitionMemory(Partition& partition) : partition_(partition) {}
    ErrorOr<void> read(uint64_t gpa, void* buffer, size_t size) override {
        return partition_.read_guest(gpa, buffer, size);
    }
    ErrorOr<void> write(uint64_t, const void*, size_t) override {
        return Error(ErrorCode::permission, "instruction fetch does not write guest memory");
    }

private:
    Partition& partition_;
};

} // namespace

ErrorOr<uint8_t> Partition::instruction_length(uint32_t index) {
    const SystemRegisters system = system_registers(index);
    const uint64_t rip = registers(index).rip;
    const mm::GuestPagingState paging{system.cr0, system.cr3, system.cr4, system.efer};
    PartitionMemory memory(*this);
    // The hypervisor fetches what the guest just executed, with the guest's own privilege (a
    // supervisor fetch from a user page would trip SMEP for code the guest runs at CPL 3).
    const mm::GuestAccess fetch{.user = system.cpl == 3, .execute = true};

    // CS.base counts outside 64-bit mode only (the CPU treats it as 0 there).
    const bool long_mode = (system.efer & kEferLma) && (system.cs.attributes & kSegmentLong);
    const uint64_t code_base = long_mode ? 0 : system.cs.base;
    // Fetch byte by byte through the translation of each page: an instruction may straddle a
    // page boundary, and the bytes after the end of guest memory are simply not fetched.
    uint8_t bytes[kMaxInstructionLength];
    size_t fetched = 0;
    while (fetched < kMaxInstructionLength) {
        const uint64_t virt = code_base + rip + fetched;
        auto walk = mm::walk_guest_page_tables(paging, virt, fetch, memory);
        if (walk.is_error() || walk.value().status != mm::GuestWalkStatus::ok ||
            read_guest(walk.value().gpa, &bytes[fetched], 1).is_error())
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
    // With NRIP save the CPU already said where the instruction ends.
    if (vcpus_[index].exit_next_rip != 0) {
        registers(index).rip = vcpus_[index].exit_next_rip;
        return {};
    }
    const uint8_t length = TRY(instruction_length(index));
    registers(index).rip += length;
    return {};
}

} // namespace halcyon::vmm
