// Nested page tables (mm/npt.hpp) and the guest page-table walker
// (vmm/partition/guest_page_walk.hpp), over a host buffer standing in for physical memory.
#include "mm/npt.hpp"
#include "vmm/partition/guest_page_walk.hpp"

#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <vector>

using namespace halcyon;
using namespace halcyon::mm;

namespace {

constexpr uint64_t MiB = 1ULL << 20;
constexpr uint64_t kBase = 16 * MiB;
constexpr uint64_t kSize = 8 * MiB;

class FakeMemory {
public:
    FakeMemory()
        : map_{handoff::MemoryRegion{kBase, kSize / kPageSize, handoff::MemoryType::usable, 0, 0}},
          storage_(FrameAllocator::metadata_words(map_)),
          buffer_(std::aligned_alloc(2 * MiB, kSize)),
          window_(PhysicalWindow::for_buffer(buffer_, kBase)),
          frames_(
              FrameAllocator::create(map_, MetadataPlacement::external(storage_)).release_value()) {
        std::memset(buffer_, 0xA5, kSize);
    }
    ~FakeMemory() { std::free(buffer_); }

    FrameAllocator& frames() { return frames_; }
    PhysicalWindow window() const { return window_; }

private:
    handoff::MemoryRegion map_[1];
    std::vector<uint64_t> storage_;
    void* buffer_;
    PhysicalWindow window_;
    FrameAllocator frames_;
};

} // namespace

TEST(NestedPageTable, GuestMemoryIsUserWritableExecutableAndLargePaged) {
    FakeMemory memory;
    auto npt = NestedPageTable::create(memory.frames(), memory.window()).release_value();
    const uint64_t chunk = memory.frames().allocate(512, 512).release_value();
    ASSERT_FALSE(npt.map(0, chunk, 2 * MiB, kGuestMemory).is_error());
    const auto translation = npt.lookup(0x1234);
    ASSERT_TRUE(translation.has_value());
    EXPECT_EQ(translation->physical, chunk + 0x1234);
    EXPECT_EQ(translation->page_size, PageSize::size_2m);
    EXPECT_TRUE(translation->attributes.user);
    EXPECT_TRUE(translation->attributes.writable);
    EXPECT_TRUE(translation->attributes.executable);
    EXPECT_FALSE(npt.lookup(2 * MiB).has_value()) << "nothing beyond the guest's memory";
    // Every level of the walk carries U=1 (NPT walks are user accesses).
    const uint64_t* pml4 = memory.window().to_virtual<uint64_t>(npt.root());
    EXPECT_EQ(pml4[0] & 0x7, 0x7u);
    npt.destroy();
}

TEST(NestedPageTable, RefusesSupervisorMappings) {
    FakeMemory memory;
    auto npt = NestedPageTable::create(memory.frames(), memory.window()).release_value();
    const uint64_t page = memory.frames().allocate(1).release_value();
    EXPECT_TRUE(npt.map(0, page, kPageSize, kReadWrite).is_error());
    ASSERT_FALSE(npt.map(0x5000, page, kPageSize, kGuestReadOnly).is_error());
    EXPECT_FALSE(npt.lookup(0x5000)->attributes.writable);
    npt.destroy();
}

TEST(GuestPageWalk, LongModeWithLargeAndSmallPages) {
    // Guest "physical" memory: 64 KiB of tables.
    std::vector<uint64_t> guest(8192, 0);
    auto read64 = [&](uint64_t gpa, uint64_t& out) {
        if (gpa + 8 > guest.size() * 8)
            return false;
        out = guest[gpa / 8];
        return true;
    };
    // PML4 at 0x1000 -> PDPT 0x2000 -> PD 0x3000: entry 0 a 2 MiB page at 0x40000000,
    // entry 1 -> PT 0x4000 whose entry 3 maps 0x7000.
    guest[0x1000 / 8] = 0x2000 | 3;
    guest[0x2000 / 8] = 0x3000 | 3;
    guest[0x3000 / 8] = 0x4000'0000 | 0x83;
    guest[0x3000 / 8 + 1] = 0x4000 | 3;
    guest[0x4000 / 8 + 3] = 0x7000 | 3;
    const vmm::GuestPaging paging{.cr0 = 0x8000'0011, .cr3 = 0x1000, .cr4 = 0x20, .efer = 0x500};
    EXPECT_EQ(vmm::guest_virtual_to_physical(paging, 0x12345, read64).value(), 0x4001'2345u);
    EXPECT_EQ(vmm::guest_virtual_to_physical(paging, 0x203ABC, read64).value(), 0x7ABCu);
    EXPECT_EQ(vmm::guest_virtual_to_physical(paging, 0x204000, read64).error().code(),
              ErrorCode::not_found);
    const vmm::GuestPaging off{.cr0 = 0x11, .cr3 = 0, .cr4 = 0, .efer = 0};
    EXPECT_EQ(vmm::guest_virtual_to_physical(off, 0xABCDEF, read64).value(), 0xABCDEFu);
    const vmm::GuestPaging legacy{.cr0 = 0x8000'0011, .cr3 = 0x1000, .cr4 = 0, .efer = 0};
    EXPECT_EQ(vmm::guest_virtual_to_physical(legacy, 0, read64).error().code(),
              ErrorCode::not_supported);
}
