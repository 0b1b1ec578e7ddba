// The state a loader hands a guest that starts directly in 64-bit long mode (no firmware, no
// real-mode code): identity page tables, a flat GDT and the control/segment registers that go
// with them. Shared by every loader that enters a guest in long mode (the Linux boot protocol
// loader, vmm/worker/linux/loader.cpp, and the flat test-guest loader), so the encoding of the
// descriptors and of the VMCB segment attributes lives in one place.
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/cpu_backend.hpp"
#include "vmm/worker/linux/guest_memory.hpp"

#include <stdint.h>

namespace halcyon::worker {

// Flat (base 0, limit 4 GiB, DPL 0) GDT descriptors in the hardware encoding.
inline constexpr uint64_t kFlatCode64Descriptor = 0x00AF'9B00'0000'FFFFull; // exec/read, L=1, G=1
inline constexpr uint64_t kFlatDataDescriptor = 0x00CF'9300'0000'FFFFull;   // read/write, D/B, G

// The packed 12-bit segment attributes of the SVM VMCB (descriptor bits 40..47 and 52..55) of a
// descriptor, so a register loaded by the loader matches the GDT entry it names.
[[nodiscard]] constexpr uint16_t vmcb_attributes_of(uint64_t descriptor) {
    return static_cast<uint16_t>(((descriptor >> 40) & 0xFF) | (((descriptor >> 52) & 0xF) << 8));
}
static_assert(vmcb_attributes_of(kFlatCode64Descriptor) == 0xA9B);
static_assert(vmcb_attributes_of(kFlatDataDescriptor) == 0xC93);

// Identity page tables for GPA 0..4 GiB with 2 MiB pages (RWX, write-back): a PML4 at `pml4_gpa`,
// the PDPT in the next page and four page directories after it. Addresses beyond the guest's RAM
// are mapped too (MMIO of the LAPIC and IOAPIC lives there).
inline constexpr uint64_t kIdentityMapBytes = 4ull << 30;
inline constexpr uint64_t kIdentityPageTableBytes = 6 * 4096;
[[nodiscard]] ErrorOr<void> write_identity_page_tables(GuestMemoryWriter& memory,
                                                       uint64_t pml4_gpa);

struct LongModeLayout {
    uint64_t cr3 = 0; // the PML4 written by write_identity_page_tables
    uint64_t gdt_base = 0;
    uint16_t gdt_limit = 0;
    uint16_t code_selector = 0; // names a kFlatCode64Descriptor
    uint16_t data_selector = 0; // names a kFlatDataDescriptor; loaded into DS, ES, FS, GS, SS
    uint64_t extra_cr4 = 0;     // on top of PAE (e.g. OSFXSR|OSXMMEXCPT for SSE-using guests)
    uint64_t extra_efer = 0;    // on top of LME|LMA (e.g. NXE)
};

inline constexpr uint64_t kCr0Pe = 1ull << 0, kCr0Mp = 1ull << 1, kCr0Et = 1ull << 4,
                          kCr0Ne = 1ull << 5, kCr0Wp = 1ull << 16, kCr0Pg = 1ull << 31;
inline constexpr uint64_t kCr4Pae = 1ull << 5, kCr4Osfxsr = 1ull << 9, kCr4Osxmmexcpt = 1ull << 10;
inline constexpr uint64_t kEferLme = 1ull << 8, kEferLma = 1ull << 10, kEferNxe = 1ull << 11;
inline constexpr uint64_t kDefaultPat = 0x0007'0406'0007'0406ull; // the architectural reset value

// CPL 0, 64-bit mode, paging on: CR0 = PE|MP|ET|NE|WP|PG, CR4 = PAE | extra_cr4, EFER =
// LME|LMA | extra_efer, flat segments, an empty IDT (the guest installs its own), a busy 64-bit
// TSS and an empty LDT (never used before the guest loads its own).
[[nodiscard]] vmm::SystemRegisters long_mode_system_registers(const LongModeLayout& layout);

} // namespace halcyon::worker
