#include "vmm/worker/linux/long_mode.hpp"

namespace halcyon::worker {
namespace {

constexpr uint64_t kPresentWritable = 0x3;
constexpr uint64_t kLargePage = 0x80;
constexpr uint64_t kPageBytes = 4096;
constexpr uint64_t kEntriesPerTable = 512;

} // namespace

ErrorOr<void> write_identity_page_tables(GuestMemoryWriter& memory, uint64_t pml4_gpa) {
    if (pml4_gpa % kPageBytes != 0)
        return Error(ErrorCode::invalid_argument, "page tables must be page aligned");
    const uint64_t pdpt = pml4_gpa + kPageBytes;
    const uint64_t first_directory = pdpt + kPageBytes;
    constexpr uint64_t kGiB = kIdentityMapBytes >> 30;

    // Whole pages are written (not just the used entries), so the tables do not depend on the
    // guest memory having been zeroed.
    uint64_t table[kEntriesPerTable] = {};
    table[0] = pdpt | kPresentWritable;
    TRY(memory.write_object(pml4_gpa, table));
    for (uint64_t gib = 0; gib < kEntriesPerTable; ++gib)
        table[gib] = gib < kGiB ? (first_directory + gib * kPageBytes) | kPresentWritable : 0;
    TRY(memory.write_object(pdpt, table));
    for (uint64_t gib = 0; gib < kGiB; ++gib) {
        for (uint64_t i = 0; i < kEntriesPerTable; ++i)
            table[i] = ((gib << 30) + (i << 21)) | kPresentWritable | kLargePage;
        TRY(memory.write_object(first_directory + gib * kPageBytes, table));
    }
    return {};
}

vmm::SystemRegisters long_mode_system_registers(const LongModeLayout& layout) {
    vmm::SystemRegisters s;
    s.cr0 = kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Wp | kCr0Pg;
    s.cr4 = kCr4Pae | layout.extra_cr4;
    s.efer = kEferLme | kEferLma | layout.extra_efer;
    s.cr3 = layout.cr3;
    s.pat = kDefaultPat;
    const vmm::Segment code{layout.code_selector, vmcb_attributes_of(kFlatCode64Descriptor),
                            0xFFFF'FFFF, 0};
    const vmm::Segment data{layout.data_selector, vmcb_attributes_of(kFlatDataDescriptor),
                            0xFFFF'FFFF, 0};
    s.cs = code;
    s.ds = s.es = s.ss = s.fs = s.gs = data;
    s.tr = vmm::Segment{0, 0x8B, 0x67, 0}; // busy 64-bit TSS; nothing switches tasks
    s.ldtr = vmm::Segment{0, 0x82, 0, 0};  // an empty LDT
    s.gdtr = {layout.gdt_base, layout.gdt_limit};
    s.idtr = {0, 0};
    s.cpl = 0;
    return s;
}

} // namespace halcyon::worker
