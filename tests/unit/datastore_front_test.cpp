// The Datastore front (mgmt/datastore/datastore.hpp) the VM worker and the VM manager use:
// create (with parents), open, list, read_file, "ds:" names, and a VHDX on a datastore file in a
// partition whose guest flushes reach the device's flush and leave a clean volume behind.
#include "mgmt/datastore/datastore.hpp"
#include "mgmt/datastore/exfat/file_block_io.hpp"
#include "tests/unit/datastore_test_support.hpp"
#include "vhdx/disk.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace halcyon;
using namespace halcyon::datastore;
using namespace halcyon::datastore::testing;
using exfat::testing::must;
using exfat::testing::must_ok;
using exfat::testing::pattern;

namespace {

constexpr uint64_t kSectors = 131072; // 64 MiB
constexpr uint64_t kFirst = 2048;
constexpr uint64_t kCount = kSectors - 2048 - 34;

struct Names final : ListVisitor {
    bool entry(const exfat::EntryInfo& info) override {
        names.push_back(std::string(info.name) + (info.directory ? "/" : ""));
        return true;
    }
    std::vector<std::string> names;
};

struct Fixture {
    Fixture() : device(512, kSectors), window(device, kFirst, kCount) {
        write_gpt(device.image(), {{kFirst, kFirst + kCount - 1, 0}});
        format_at(device, kFirst, kCount, "HALCYON-DS");
    }
    MemorySectorDevice device;
    SectorWindow window;
    vhdx::testing::HeapAllocator allocator;
    FixedClock clock;
};

TEST(DatastoreFront, CreateOpenListRead) {
    Fixture fx;
    Datastore store(fx.window, fx.allocator, fx.clock);
    must_ok(store.mount());
    EXPECT_STREQ(store.info().label, "HALCYON-DS");
    EXPECT_GT(store.size_bytes(), 60ull << 20);
    const uint64_t free_before = store.free_bytes();

    const auto data = pattern(7, 100000);
    {
        exfat::File file = must(store.create("ds:/vms/web/kernel", 0));
        must_ok(file.write(0, data));
        must_ok(file.close());
    }
    EXPECT_LT(store.free_bytes(), free_before);
    auto again = store.create("vms/web/kernel");
    ASSERT_TRUE(again.is_error());
    EXPECT_EQ(again.error().code(), ErrorCode::already_exists);

    exfat::EntryInfo info;
    must_ok(store.stat("/vms/web/kernel", info));
    EXPECT_EQ(info.size, data.size());
    std::vector<uint8_t> back(data.size());
    must_ok(store.read_file("ds:vms/web/kernel", back));
    EXPECT_EQ(back, data);
    std::vector<uint8_t> wrong(10);
    EXPECT_TRUE(store.read_file("vms/web/kernel", wrong).is_error());

    {
        exfat::File sized = must(store.create("vms/web/disk.vhdx", 3 << 20));
        EXPECT_EQ(sized.size(), 3u << 20);
        must_ok(sized.close());
    }
    Names names;
    must_ok(store.list("ds:/vms/web", names));
    std::sort(names.names.begin(), names.names.end());
    EXPECT_EQ(names.names, (std::vector<std::string>{"disk.vhdx", "kernel"}));
    Names root;
    must_ok(store.list("/", root));
    EXPECT_EQ(root.names, (std::vector<std::string>{"vms/"}));

    auto missing = store.open("vms/none", exfat::OpenMode::read);
    ASSERT_TRUE(missing.is_error());
    EXPECT_EQ(missing.error().code(), ErrorCode::not_found);
    must_ok(store.unmount());
}

TEST(DatastoreFront, DamagedVolumeIsRefusedAndLeftUntouched) {
    Fixture fx;
    {
        Datastore store(fx.window, fx.allocator, fx.clock);
        must_ok(store.mount());
        must_ok(must(store.create("vms/a.vhdx", 1 << 20)).close());
        must_ok(store.unmount());
    }
    // The allocation bitmap is the first thing in the cluster heap (cluster 2); clearing its first
    // byte marks the bitmap, up-case table and root directory clusters free.
    uint32_t heap_offset;
    std::memcpy(&heap_offset, fx.device.image().data() + kFirst * 512 + 88, 4);
    fx.device.image()[(kFirst + heap_offset) * 512] = 0;
    const std::vector<uint8_t> before = fx.device.image();
    const uint64_t writes = fx.device.writes();
    Datastore store(fx.window, fx.allocator, fx.clock);
    auto mounted = store.mount();
    ASSERT_TRUE(mounted.is_error());
    EXPECT_EQ(mounted.error().code(), ErrorCode::corrupt);
    EXPECT_STREQ(mounted.error().message(),
                 "exfat: a cluster in use is marked free in the allocation bitmap");
    EXPECT_FALSE(store.mounted());
    EXPECT_EQ(fx.device.writes(), writes);
    EXPECT_EQ(fx.device.image(), before);
}

TEST(DatastoreFront, ParentThatIsAFileIsRefused) {
    Fixture fx;
    Datastore store(fx.window, fx.allocator, fx.clock);
    must_ok(store.mount());
    must_ok(must(store.create("vms")).close());
    auto nested = store.create("vms/a.vhdx");
    ASSERT_TRUE(nested.is_error());
    EXPECT_EQ(nested.error().code(), ErrorCode::already_exists);
}

TEST(DatastoreFront, VhdxFlushReachesTheDeviceAndSyncLeavesACleanVolume) {
    Fixture fx;
    vhdx::testing::SeededRandom random(3);
    const auto block = pattern(9, 1 << 20);
    {
        Datastore store(fx.window, fx.allocator, fx.clock);
        must_ok(store.mount());
        exfat::File file = must(store.create("ds:/vms/a/disk.vhdx"));
        exfat::FileBlockIo io(file);
        vhdx::CreateOptions options;
        options.virtual_size = 64ull << 20;
        options.block_size = 1 << 20;
        options.random = &random;
        vhdx::Disk* disk = must(vhdx::Disk::create(io, fx.allocator, options));
        must_ok(disk->write(5 << 20, block));
        // A guest's SYNCHRONIZE CACHE is Disk::flush: it must end in the device's flush, with
        // the data durable (what a power cut right after it keeps).
        const uint64_t flushes = fx.device.flushes();
        must_ok(disk->flush());
        EXPECT_GT(fx.device.flushes(), flushes);
        auto after_cut = fx.device.crash_image(exfat::testing::CrashPolicy::lose_pending, 1);
        {
            MemorySectorDevice cut(512, after_cut);
            SectorWindow window(cut, kFirst, kCount);
            Datastore recovered(window, fx.allocator, fx.clock);
            must_ok(recovered.mount());
            EXPECT_TRUE(recovered.info().was_dirty); // the VHDX was open for writing
            // Writable: the VHDX log written before the flush is replayed, as at the next boot.
            exfat::File copy = must(recovered.open("vms/a/disk.vhdx", exfat::OpenMode::read_write));
            exfat::FileBlockIo copy_io(copy);
            vhdx::OpenOptions open_options;
            open_options.random = &random;
            vhdx::Disk* reopened = must(vhdx::Disk::open(copy_io, fx.allocator, open_options));
            std::vector<uint8_t> back(block.size());
            must_ok(reopened->read(5 << 20, back));
            EXPECT_EQ(back, block);
            must_ok(reopened->close());
        }
        must_ok(disk->close());
        must_ok(file.close());
        // What VmDisks does once a VM's disks are closed: the volume is marked clean.
        must_ok(store.sync());
    }
    MemorySectorDevice after(512,
                             fx.device.crash_image(exfat::testing::CrashPolicy::lose_pending, 2));
    SectorWindow window(after, kFirst, kCount);
    Datastore store(window, fx.allocator, fx.clock);
    must_ok(store.mount());
    EXPECT_FALSE(store.info().was_dirty);
    EXPECT_EQ(store.info().check.leaked_clusters, 0u);
}

} // namespace
