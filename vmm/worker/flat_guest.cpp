#include "vmm/worker/flat_guest.hpp"

#include "vmm/worker/linux/long_mode.hpp"
#include "vmm/worker/partition_writer.hpp"

namespace halcyon::worker {
namespace {

// Flat 64-bit segments, in the descriptor encoding of the guest's GDT.
constexpr uint64_t kGdt[] = {0, kFlatCode64Descriptor, kFlatDataDescriptor};

vmm::SystemRegisters long_mode_state() {
    LongModeLayout layout;
    layout.cr3 = kPml4Address;
    layout.gdt_base = kGdtAddress;
    layout.gdt_limit = static_cast<uint16_t>(sizeof(kGdt) - 1);
    layout.code_selector = kCodeSelector;
    layout.data_selector = kDataSelector;
    layout.extra_cr4 = kCr4Osfxsr | kCr4Osxmmexcpt; // unchanged from the old flat state
    layout.extra_efer = kEferNxe;
    return long_mode_system_registers(layout);
}

} // namespace

ErrorOr<void> load_flat_guest(vmm::Partition& partition, std::span<const uint8_t> image) {
    if (partition.vcpu_count() > kMaxFlatVcpus)
        return Error(ErrorCode::out_of_range, "flat test guests support at most 8 vCPUs");
    if (image.empty() || image.size() > partition.memory_size() - kImageBase)
        return Error(ErrorCode::out_of_range, "the guest image does not fit in its memory");
    PartitionWriter memory(partition);
    TRY(memory.write_object(kGdtAddress, kGdt));
    TRY(write_identity_page_tables(memory, kPml4Address));
    TRY(memory.write(kImageBase, image));

    const vmm::SystemRegisters system = long_mode_state();
    for (uint32_t index = 0; index < partition.vcpu_count(); ++index) {
        partition.set_system_registers(index, system);
        vmm::GeneralRegisters& regs = partition.registers(index);
        regs = vmm::GeneralRegisters{};
        regs.rip = kImageBase;
        regs.rsp = kImageBase - index * kStackPerVcpu;
        regs.rflags = 0x2;
        regs.rdi = partition.memory_size();
        regs.rsi = index;
        regs.rdx = partition.vcpu_count();
    }
    return {};
}

} // namespace halcyon::worker
