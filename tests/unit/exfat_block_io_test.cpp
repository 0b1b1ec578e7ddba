// exFAT: an open file as a vhdx::BlockIo — the VHDX library running on a datastore file.
#include "exfat_test_support.hpp"

#include "mgmt/datastore/exfat/file_block_io.hpp"
#include "vhdx/disk.hpp"

namespace halcyon::exfat::testing {
namespace {

TEST(ExfatBlockIo, FollowsTheBlockIoContract) {
    Fixture fx;
    auto volume = fx.mount();
    File file = must(volume->open("raw", OpenMode::read_write, Disposition::create_new));
    FileBlockIo io(file);
    EXPECT_FALSE(io.read_only());
    EXPECT_EQ(must(io.size()), 0u);
    std::vector<uint8_t> buffer(10);
    EXPECT_TRUE(io.read(0, buffer).is_error()); // past the end
    must_ok(io.write(100000, pattern(1, 10)));  // grows; the gap reads as zero
    EXPECT_EQ(must(io.size()), 100010u);
    must_ok(io.read(99995, buffer));
    EXPECT_EQ(std::vector<uint8_t>(buffer.begin(), buffer.begin() + 5), std::vector<uint8_t>(5));
    must_ok(io.set_size(50));
    EXPECT_EQ(must(io.size()), 50u);
    must_ok(io.flush());
    must_ok(file.close());
    File reader = must(volume->open("raw", OpenMode::read));
    FileBlockIo read_only(reader);
    EXPECT_TRUE(read_only.read_only());
}

TEST(ExfatBlockIo, VhdxDiskLivesInADatastoreFile) {
    Fixture fx(64 << 20);
    vhdx::testing::SeededRandom random(7);
    auto block = pattern(2, 1 << 20);
    {
        auto volume = fx.mount();
        must_ok(volume->create_directory("vms"));
        File file =
            must(volume->open("vms/disk.vhdx", OpenMode::read_write, Disposition::create_new));
        FileBlockIo io(file);
        vhdx::CreateOptions options;
        options.virtual_size = 256ull << 20;
        options.block_size = 2 << 20;
        options.random = &random;
        vhdx::Disk* disk = must(vhdx::Disk::create(io, fx.allocator, options));
        must_ok(disk->write(0, block));
        must_ok(disk->write(200ull << 20, block));
        must_ok(disk->close());
        must_ok(file.close());
        must_ok(volume->unmount());
    }
    auto volume = fx.mount();
    EXPECT_EQ(volume->info().check.leaked_clusters, 0u);
    File file = must(volume->open("VMS/DISK.VHDX", OpenMode::read_write));
    FileBlockIo io(file);
    vhdx::OpenOptions options;
    options.random = &random;
    vhdx::Disk* disk = must(vhdx::Disk::open(io, fx.allocator, options));
    std::vector<uint8_t> buffer(block.size());
    must_ok(disk->read(200ull << 20, buffer));
    EXPECT_EQ(buffer, block);
    must_ok(disk->read(100ull << 20, buffer));
    EXPECT_EQ(buffer, std::vector<uint8_t>(block.size()));
    must_ok(disk->close());
    must_ok(file.close());
    must_ok(volume->unmount());
}

} // namespace
} // namespace halcyon::exfat::testing
