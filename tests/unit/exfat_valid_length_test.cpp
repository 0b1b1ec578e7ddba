// exFAT: every file the library commits has ValidDataLength == DataLength. Linux before 6.8
// (Debian 12) takes ValidDataLength for a file's size, so bytes never written (set_size growth,
// Datastore::create with a size, a VHDX's new blocks) are zero-filled on disk before the entry
// that covers them: at the commit, once, in device-sized runs. Files other systems left with
// ValidDataLength < DataLength still read as zeros past it. A power cut in the middle of a fill
// must never leave ValidDataLength over stale clusters (docs/datastore.md, "Interoperability").
#include "exfat_test_support.hpp"
#include "mgmt/datastore/datastore.hpp"
#include "mgmt/datastore/exfat/checksum.hpp"
#include "mgmt/datastore/exfat/file_block_io.hpp"
#include "vhdx/disk.hpp"

#include <cstdio>
#include <cstring>

namespace halcyon::exfat::testing {
namespace {

// Counts what the library asks the device to zero, then zeros through the default path.
class CountingDevice final : public MemorySectorDevice {
public:
    using MemorySectorDevice::MemorySectorDevice;
    ErrorOr<void> write_zeros(uint64_t sector, uint64_t count,
                              std::span<const uint8_t> zeros) override {
        zero_calls++;
        zero_sectors += count;
        return SectorDevice::write_zeros(sector, count, zeros);
    }
    uint64_t zero_calls = 0;
    uint64_t zero_sectors = 0;
};

struct CountingFixture {
    explicit CountingFixture(uint64_t bytes = 32 << 20, FormatOptions options = {})
        : device(512, bytes / 512) {
        must(format(device, allocator, clock, options));
    }
    CountingDevice device;
    vhdx::testing::HeapAllocator allocator;
    FixedClock clock;
};

EntryInfo stat_of(Volume& volume, const std::string& path) {
    EntryInfo info;
    must_ok(volume.stat(path, info));
    return info;
}

// Leaves `bytes` of a non-zero pattern in free clusters: a file written, then removed.
void leave_stale_clusters(Volume& volume, size_t bytes) {
    write_file(volume, "stale.bin", std::vector<uint8_t>(bytes, 0xA5));
    must_ok(volume.remove("stale.bin"));
    must_ok(volume.sync());
}

TEST(ExfatValidLength, GrowthIsZeroFilledOnDiskAtTheCommit) {
    Fixture fx;
    auto volume = fx.mount();
    leave_stale_clusters(*volume, 2 << 20);
    File file = must(volume->open("grown.bin", OpenMode::read_write, Disposition::create_new));
    must_ok(file.set_size((1 << 20) + 1234));
    // Before the commit the new bytes lie past ValidDataLength and read as zero...
    EXPECT_EQ(file.valid_size(), 0u);
    std::vector<uint8_t> early(file.size());
    EXPECT_EQ(must(file.read(0, early)), early.size());
    EXPECT_TRUE(std::all_of(early.begin(), early.end(), [](uint8_t b) { return b == 0; }));
    must_ok(file.close());
    must_ok(volume->unmount());

    // ... and after it ValidDataLength covers them, so they come from the disk: zeros there.
    auto again = fx.mount();
    EntryInfo info = stat_of(*again, "grown.bin");
    EXPECT_EQ(info.size, (1u << 20) + 1234);
    EXPECT_EQ(info.valid_size, info.size);
    auto content = read_file(*again, "grown.bin");
    EXPECT_TRUE(std::all_of(content.begin(), content.end(), [](uint8_t b) { return b == 0; }))
        << "stale clusters under ValidDataLength";
    EXPECT_EQ(must(again->check()).partially_valid_files, 0u);
}

TEST(ExfatValidLength, WritesPastValidDataLengthFillTheGap) {
    Fixture fx;
    auto volume = fx.mount();
    leave_stale_clusters(*volume, 1 << 20);
    auto head = pattern(1, 10000);
    auto middle = pattern(2, 100);
    auto tail = pattern(3, 777);
    File file = must(volume->open("gaps.bin", OpenMode::read_write, Disposition::create_new));
    must_ok(file.write(0, head));
    must_ok(file.set_size(200000));
    must_ok(file.write(150000, middle)); // inside DataLength, past ValidDataLength
    EXPECT_EQ(file.valid_size(), 150100u);
    must_ok(file.flush());
    EXPECT_EQ(file.valid_size(), 200000u);
    must_ok(file.write(300001, tail)); // past the end: grows, the gap zero-filled
    must_ok(file.close());

    std::vector<uint8_t> expected(300001 + tail.size(), 0);
    std::copy(head.begin(), head.end(), expected.begin());
    std::copy(middle.begin(), middle.end(), expected.begin() + 150000);
    std::copy(tail.begin(), tail.end(), expected.begin() + 300001);
    must_ok(volume->unmount());
    auto again = fx.mount();
    EntryInfo info = stat_of(*again, "gaps.bin");
    EXPECT_EQ(info.size, expected.size());
    EXPECT_EQ(info.valid_size, info.size);
    EXPECT_EQ(read_file(*again, "gaps.bin"), expected);
}

TEST(ExfatValidLength, EachNeverWrittenByteIsZeroedOnceInLargeRuns) {
    CountingFixture fx;
    {
        Volume volume(fx.device, fx.allocator, fx.clock);
        must_ok(volume.mount());
        File file = must(volume.open("big.bin", OpenMode::read_write, Disposition::create_new));
        must_ok(file.set_size(4 << 20));
        must_ok(file.write(1 << 20, pattern(4, 64 << 10)));
        must_ok(file.write(3 << 20, pattern(5, 64 << 10)));
        const uint64_t before_close = fx.device.bytes_written();
        must_ok(file.close());
        // Three gaps in a contiguous file: [0, 1M), [1M+64K, 3M), [3M+64K, 4M); nothing
        // zeroed twice, nothing written by the caller zeroed at all.
        EXPECT_EQ(fx.device.zero_calls, 3u);
        EXPECT_EQ(fx.device.zero_sectors * 512, (4u << 20) - (128u << 10));
        // The commit adds the last gap and a few metadata sectors, no read-modify-write of
        // whole clusters.
        EXPECT_LT(fx.device.bytes_written() - before_close, (1u << 20) - (64u << 10) + 8 * 512);
        must_ok(volume.unmount());
    }
    EXPECT_LT(fx.device.bytes_written(), (4u << 20) + (256u << 10));
}

TEST(ExfatValidLength, ZeroFillInSlicesEndsOnClusterBoundaries) {
    Fixture fx(16 << 20, 512, FormatOptions{4096, "", 1, 0});
    auto volume = fx.mount();
    File file = must(volume->open("sliced.bin", OpenMode::read_write, Disposition::create_new));
    must_ok(file.write(0, pattern(6, 1000)));
    must_ok(file.set_size(100000));
    EXPECT_EQ(must(file.zero_fill(10000)), 100000u - 8192);
    EXPECT_EQ(file.valid_size(), 8192u);
    EXPECT_EQ(must(file.zero_fill(1)), 100000u - 12288); // at least the next cluster
    uint64_t left = 0;
    while ((left = must(file.zero_fill(30000))) > 0) {
    }
    EXPECT_EQ(file.valid_size(), 100000u);
    must_ok(file.close());
    EntryInfo info = stat_of(*volume, "sliced.bin");
    EXPECT_EQ(info.valid_size, 100000u);
}

// Writes `valid` into the ValidDataLength of the file whose DataLength is `size` (unique in
// the image), fixing the set checksum: what Windows leaves after a preallocation.
void patch_valid_length(std::vector<uint8_t>& image, uint64_t size, uint64_t valid) {
    for (size_t at = 32; at + 32 <= image.size(); at += 32) {
        layout::StreamExtensionEntry stream;
        std::memcpy(&stream, image.data() + at, sizeof(stream));
        if (stream.entry_type != 0xC0 || stream.data_length != size ||
            stream.valid_data_length != size || image[at - 32] != 0x85)
            continue;
        stream.valid_data_length = valid;
        std::memcpy(image.data() + at, &stream, sizeof(stream));
        uint8_t* file = image.data() + at - 32;
        EntrySetChecksum checksum;
        for (uint32_t i = 0; i <= file[1]; ++i)
            checksum.add({file + 32 * i, 32}, i == 0);
        uint16_t value = checksum.value();
        std::memcpy(file + 2, &value, 2);
        return;
    }
    FAIL() << "stream extension entry not found";
}

TEST(ExfatValidLength, FilesOthersLeftPartlyValidReadAsZerosAndAreFilledWhenChanged) {
    Fixture fx;
    const auto data = pattern(7, 100000);
    {
        auto volume = fx.mount();
        write_file(*volume, "windows.bin", data);
        must_ok(volume->unmount());
    }
    std::vector<uint8_t> image = fx.device.image();
    patch_valid_length(image, 100000, 40000);
    MemorySectorDevice device(512, image);
    std::vector<uint8_t> expected(data.begin(), data.begin() + 40000);
    expected.resize(100000, 0);
    {
        Volume volume(device, fx.allocator, fx.clock);
        must_ok(volume.mount());
        EXPECT_EQ(volume.info().check.partially_valid_files, 1u);
        // The clusters past ValidDataLength still hold the old data: it must not show.
        EXPECT_EQ(read_file(volume, "windows.bin"), expected);
        // Opened for writing but unchanged: left as it was.
        File untouched = must(volume.open("windows.bin", OpenMode::read_write));
        must_ok(untouched.close());
        EXPECT_EQ(stat_of(volume, "windows.bin").valid_size, 40000u);
        // Changed: committed with ValidDataLength == DataLength, the gap zeroed on disk.
        File file = must(volume.open("windows.bin", OpenMode::read_write));
        must_ok(file.write(0, pattern(8, 10)));
        must_ok(file.close());
        must_ok(volume.unmount());
    }
    auto changed = pattern(8, 10);
    std::copy(changed.begin(), changed.end(), expected.begin());
    Volume volume(device, fx.allocator, fx.clock);
    must_ok(volume.mount());
    EXPECT_EQ(volume.info().check.partially_valid_files, 0u);
    EXPECT_EQ(stat_of(volume, "windows.bin").valid_size, 100000u);
    EXPECT_EQ(read_file(volume, "windows.bin"), expected);
}

// What New-VHD does on the datastore (vmm/worker/vm_manager_vhd.cpp): Datastore::create, then
// a VHDX made through FileBlockIo. Prints the cost of the zero fill.
TEST(ExfatValidLength, NewVhdxFilesAreFullyValidAndWrittenInOnePass) {
    struct Case {
        vhdx::DiskType type;
        uint32_t sector;
        const char* name;
    };
    for (Case c : {Case{vhdx::DiskType::fixed, 4096, "fixed 16 MiB, 4 KiB sectors"},
                   Case{vhdx::DiskType::dynamic, 512, "dynamic 64 MiB, one 1 MiB block written"}}) {
        SCOPED_TRACE(c.name);
        CountingFixture fx(64 << 20);
        vhdx::testing::SeededRandom random(11);
        datastore::Datastore store(fx.device, fx.allocator, fx.clock);
        must_ok(store.mount());
        const uint64_t start = fx.device.bytes_written();
        uint64_t file_size = 0;
        {
            File file = must(store.create("ds:/vms/new/disk.vhdx", 0));
            FileBlockIo io(file);
            vhdx::CreateOptions options;
            options.type = c.type;
            options.virtual_size = c.type == vhdx::DiskType::fixed ? 16 << 20 : 64 << 20;
            options.block_size = 1 << 20;
            options.logical_sector_size = c.sector;
            options.random = &random;
            vhdx::Disk* disk = must(vhdx::Disk::create(io, fx.allocator, options));
            if (c.type == vhdx::DiskType::dynamic)
                must_ok(disk->write(5 << 20, pattern(9, 4096)));
            must_ok(disk->close());
            file_size = file.size();
            must_ok(file.close());
        }
        must_ok(store.sync());
        const uint64_t written = fx.device.bytes_written() - start;
        EntryInfo info;
        must_ok(store.stat("vms/new/disk.vhdx", info));
        EXPECT_EQ(info.valid_size, info.size);
        // One pass over the file plus the VHDX's own rewrites (headers twice, the log) and
        // the volume's metadata: never the file twice.
        EXPECT_GE(written, file_size);
        EXPECT_LT(written, file_size + (2u << 20));
        std::printf("[ figures  ] %s: file %llu KiB, %llu KiB written, %llu KiB of it zero-fill "
                    "in %llu device calls\n",
                    c.name, (unsigned long long)(file_size >> 10),
                    (unsigned long long)(written >> 10),
                    (unsigned long long)(fx.device.zero_sectors * 512 >> 10),
                    (unsigned long long)fx.device.zero_calls);
        must_ok(store.unmount());
    }
}

// --- power cuts in the middle of zero fills ----------------------------------------------------

constexpr uint64_t kFirstSize = 300000;
constexpr uint64_t kFinalSize = 700000;

std::vector<uint8_t> final_content() {
    std::vector<uint8_t> content(kFinalSize, 0);
    auto a = pattern(20, 5000);
    auto b = pattern(21, 3000);
    std::copy(a.begin(), a.end(), content.begin() + 100000);
    std::copy(b.begin(), b.end(), content.begin() + 650000);
    return content;
}

void fill_scenario(Volume& volume, MemorySectorDevice& device, std::vector<uint64_t>& steps) {
    auto step = [&](ErrorOr<void> result) {
        if (result.is_error())
            return false;
        steps.push_back(device.operations());
        return true;
    };
    auto content = final_content();
    auto opened = volume.open("grown.bin", OpenMode::read_write, Disposition::create_new);
    if (opened.is_error())
        return;
    File file = opened.release_value();
    if (!step({}))
        return;
    auto first = [&]() -> ErrorOr<void> {
        TRY(file.set_size(kFirstSize));
        TRY(file.write(100000, {content.data() + 100000, 5000}));
        return file.flush();
    };
    if (!step(first()))
        return;
    auto second = [&]() -> ErrorOr<void> {
        TRY(file.set_size(kFinalSize));
        TRY(file.write(650000, {content.data() + 650000, 3000}));
        return file.close();
    };
    if (!step(second()))
        return;
    (void)step(volume.unmount());
}

void verify_fill(const std::vector<uint8_t>& crashed, size_t completed) {
    MemorySectorDevice device(512, crashed);
    vhdx::testing::HeapAllocator allocator;
    FixedClock clock;
    Volume volume(device, allocator, clock);
    auto mounted = volume.mount();
    ASSERT_FALSE(mounted.is_error()) << mounted.error().message();
    auto report = must(volume.check());
    EXPECT_EQ(report.leaked_clusters, 0u);
    EXPECT_EQ(report.excess_chains, 0u);
    EXPECT_EQ(report.partially_valid_files, 0u) << "an entry was committed partly valid";
    EntryInfo info;
    if (volume.stat("grown.bin", info).is_error()) {
        EXPECT_EQ(completed, 0u) << "the file created before the cut vanished";
        return;
    }
    // Every entry ever committed had ValidDataLength == DataLength: the file is empty, or one
    // of the two committed sizes, and everything under ValidDataLength is what was written or
    // zero, never the stale pattern the clusters held.
    EXPECT_EQ(info.valid_size, info.size);
    EXPECT_TRUE(info.size == 0 || info.size == kFirstSize || info.size == kFinalSize) << info.size;
    if (completed >= 2)
        EXPECT_GE(info.size, kFirstSize);
    if (completed >= 3)
        EXPECT_EQ(info.size, kFinalSize);
    auto content = read_file(volume, "grown.bin");
    auto expected = final_content();
    expected.resize(info.size);
    EXPECT_TRUE(content == expected) << "stale or lost bytes in a file of " << info.size;
}

TEST(ExfatValidLength, PowerCutsDuringZeroFillNeverExposeStaleClusters) {
    Fixture base(4 << 20, 512, FormatOptions{4096, "", 1, 0});
    {
        auto volume = base.mount();
        leave_stale_clusters(*volume, 2 << 20);
        must_ok(volume->unmount());
    }
    const std::vector<uint8_t> formatted = base.device.image();
    std::vector<uint64_t> steps;
    {
        MemorySectorDevice device(512, formatted);
        Volume volume(device, base.allocator, base.clock);
        must_ok(volume.mount());
        fill_scenario(volume, device, steps);
    }
    ASSERT_EQ(steps.size(), 4u) << "the scenario itself failed";
    uint64_t total = steps.back();
    uint64_t images = 0;
    for (uint64_t cut = 0; cut < total; ++cut) {
        MemorySectorDevice device(512, formatted);
        std::vector<uint64_t> reached;
        {
            Volume volume(device, base.allocator, base.clock);
            must_ok(volume.mount());
            device.cut_at(static_cast<int64_t>(cut));
            fill_scenario(volume, device, reached);
        }
        ASSERT_TRUE(device.dead());
        for (CrashPolicy policy : kAllCrashPolicies) {
            for (int seed = 0; seed < (policy == CrashPolicy::random_subset ? 3 : 1); ++seed) {
                SCOPED_TRACE(::testing::Message() << "cut at " << cut << " of " << total << ", "
                                                  << crash_policy_name(policy) << " seed " << seed
                                                  << ", steps done " << reached.size());
                verify_fill(device.crash_image(policy, cut * 17 + seed), reached.size());
                ++images;
                if (HasFatalFailure() || HasNonfatalFailure())
                    return;
            }
        }
    }
    EXPECT_GT(images, total);
}

} // namespace
} // namespace halcyon::exfat::testing
