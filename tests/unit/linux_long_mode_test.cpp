// The shared long-mode entry helpers (vmm/worker/linux/long_mode.hpp): identity page tables and
// the register state that matches the GDT descriptors.
#include "vmm/worker/linux/long_mode.hpp"
#include "vmm/worker/linux/testing/buffer_guest_memory.hpp"

#include <gtest/gtest.h>

namespace halcyon::worker {
namespace {

using testing::BufferGuestMemory;

TEST(LinuxLongMode, PageTablesMapEvery2MiBPageOfTheFirst4GiB) {
    BufferGuestMemory memory(1ull << 20);
    ASSERT_FALSE(write_identity_page_tables(memory, 0x8000).is_error());
    EXPECT_EQ(memory.load<uint64_t>(0x8000), 0x9000u | 0x3);
    for (uint64_t gib = 0; gib < 512; ++gib) {
        const uint64_t pdpte = memory.load<uint64_t>(0x9000 + 8 * gib);
        if (gib >= 4) {
            EXPECT_EQ(pdpte, 0u) << gib;
            continue;
        }
        ASSERT_EQ(pdpte, (0xA000 + 0x1000 * gib) | 0x3) << gib;
        for (uint64_t i = 0; i < 512; ++i) {
            const uint64_t pde = memory.load<uint64_t>(0xA000 + 0x1000 * gib + 8 * i);
            ASSERT_EQ(pde, ((gib << 30) | (i << 21)) | 0x83) << gib << " " << i;
        }
    }
    // Everything else in the PML4 page is empty, and nothing beyond the six pages was written.
    for (uint64_t i = 1; i < 512; ++i)
        EXPECT_EQ(memory.load<uint64_t>(0x8000 + 8 * i), 0u);
    EXPECT_EQ(memory.load<uint64_t>(0x8000 + kIdentityPageTableBytes), 0u);
}

TEST(LinuxLongMode, RefusesMisalignedTablesAndMemoryThatIsTooSmall) {
    BufferGuestMemory memory(0x8000);
    EXPECT_EQ(write_identity_page_tables(memory, 0x2010).error().code(),
              ErrorCode::invalid_argument);
    EXPECT_EQ(write_identity_page_tables(memory, 0x4000).error().code(), ErrorCode::out_of_range);
}

TEST(LinuxLongMode, RegistersMatchTheLayoutAndTheDescriptors) {
    LongModeLayout layout;
    layout.cr3 = 0x2000;
    layout.gdt_base = 0x1000;
    layout.gdt_limit = 23;
    layout.code_selector = 0x08;
    layout.data_selector = 0x10;
    layout.extra_cr4 = kCr4Osfxsr;
    layout.extra_efer = kEferNxe;
    const vmm::SystemRegisters s = long_mode_system_registers(layout);
    EXPECT_EQ(s.cr0, kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Wp | kCr0Pg);
    EXPECT_EQ(s.cr4, kCr4Pae | kCr4Osfxsr);
    EXPECT_EQ(s.efer, kEferLme | kEferLma | kEferNxe);
    EXPECT_EQ(s.cr3, 0x2000u);
    EXPECT_EQ(s.cs.selector, 0x08);
    EXPECT_EQ(s.cs.attributes, vmcb_attributes_of(kFlatCode64Descriptor));
    EXPECT_EQ((s.cs.attributes >> 9) & 1, 1); // L: 64-bit code
    for (const vmm::Segment* data : {&s.ds, &s.es, &s.fs, &s.gs, &s.ss}) {
        EXPECT_EQ(data->selector, 0x10);
        EXPECT_EQ(data->attributes, vmcb_attributes_of(kFlatDataDescriptor));
    }
    EXPECT_EQ(s.gdtr.base, 0x1000u);
    EXPECT_EQ(s.gdtr.limit, 23);
    EXPECT_EQ(s.idtr.limit, 0);
    EXPECT_EQ(s.tr.attributes, 0x8B); // busy 64-bit TSS, as VM entry requires
    EXPECT_EQ(s.pat, kDefaultPat);
    EXPECT_EQ(s.cpl, 0);
}

} // namespace
} // namespace halcyon::worker
