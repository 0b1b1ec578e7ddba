#include "vmm/worker/flat_guest.hpp"

namespace halcyon::worker {
namespace {

constexpr uint64_t kPageTablePresentWritable = 0x3;
constexpr uint64_t kPageTableLarge = 0x80;
constexpr uint64_t kIdentityMappedGiB = 4;

// Flat 64-bit segments, in the descriptor encoding of the guest's GDT.
constexpr uint64_t kGdt[] = {
    0,
    0x00AF'9A00'0000'FFFFull, // code: present, DPL 0, execute/read, L = 1, G = 1
    0x00CF'9200'0000'FFFFull, // data: present, DPL 0, read/write, D/B = 1, G = 1
};

ErrorOr<void> write_page_tables(vmm::Partition& partition) {
    const uint64_t pdpt = kPml4Address + 0x1000;
    const uint64_t first_directory = kPml4Address + 0x2000;
    const uint64_t pml4_entry = pdpt | kPageTablePresentWritable;
    TRY(partition.write_guest(kPml4Address, &pml4_entry, sizeof(pml4_entry)));
    for (uint64_t gib = 0; gib < kIdentityMappedGiB; ++gib) {
        const uint64_t directory = first_directory + gib * 0x1000;
        const uint64_t pdpt_entry = directory | kPageTablePresentWritable;
        TRY(partition.write_guest(pdpt + gib * 8, &pdpt_entry, sizeof(pdpt_entry)));
        uint64_t entries[512];
        for (uint64_t i = 0; i < 512; ++i)
            entries[i] = ((gib << 30) + (i << 21)) | kPageTablePresentWritable | kPageTableLarge;
        TRY(partition.write_guest(directory, entries, sizeof(entries)));
    }
    return {};
}

vmm::SystemRegisters long_mode_state() {
    vmm::SystemRegisters s;
    s.cr0 = (1ull << 0) | (1ull << 1) | (1ull << 4) | (1ull << 5) | (1ull << 16) | (1ull << 31);
    s.cr4 = (1ull << 5) | (1ull << 9) | (1ull << 10);
    s.efer = (1ull << 8) | (1ull << 10) | (1ull << 11);
    s.cr3 = kPml4Address;
    s.pat = 0x0007'0406'0007'0406ull;
    // VMCB attribute format: type | S << 4 | DPL << 5 | P << 7 | L << 9 | D/B << 10 | G << 11.
    const vmm::Segment code{kCodeSelector, 0xA9B, 0xFFFF'FFFF, 0};
    const vmm::Segment data{kDataSelector, 0xC93, 0xFFFF'FFFF, 0};
    s.cs = code;
    s.ds = s.es = s.ss = s.fs = s.gs = data;
    s.tr = vmm::Segment{0, 0x8B, 0x67, 0}; // busy 64-bit TSS; the guest never switches tasks
    s.ldtr = vmm::Segment{0, 0x82, 0, 0};  // an empty LDT
    s.gdtr = {kGdtAddress, static_cast<uint16_t>(sizeof(kGdt) - 1)};
    s.idtr = {0, 0};
    s.cpl = 0;
    return s;
}

} // namespace

ErrorOr<void> load_flat_guest(vmm::Partition& partition, std::span<const uint8_t> image) {
    if (partition.vcpu_count() > kMaxFlatVcpus)
        return Error(ErrorCode::out_of_range, "flat test guests support at most 8 vCPUs");
    if (image.empty() || image.size() > partition.memory_size() - kImageBase)
        return Error(ErrorCode::out_of_range, "the guest image does not fit in its memory");
    TRY(partition.write_guest(kGdtAddress, kGdt, sizeof(kGdt)));
    TRY(write_page_tables(partition));
    TRY(partition.write_guest(kImageBase, image.data(), image.size()));

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
