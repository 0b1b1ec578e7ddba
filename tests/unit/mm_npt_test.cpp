// Nested page tables (mm/npt.hpp), over a host buffer standing in for physical memory. (The guest
// page-table walker is tested in mm_guest_walk_test.cpp.)
#include "mm/npt.hpp"

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
