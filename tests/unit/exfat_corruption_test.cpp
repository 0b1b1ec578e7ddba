// exFAT: every structure corrupted in turn. Mount must refuse with an error naming what is
// wrong, and must not write a single sector.
#include "exfat_test_support.hpp"

#include "mgmt/datastore/exfat/boot_region.hpp"
#include "mgmt/datastore/exfat/checksum.hpp"
#include "mgmt/datastore/exfat/layout.hpp"

#include <cstring>
#include <functional>

namespace halcyon::exfat::testing {
namespace {

using namespace layout;

constexpr uint32_t kSector = 512;

// A volume with a directory, a contiguous file, a FAT-chained file and a small file.
std::vector<uint8_t> make_image() {
    Fixture fx(8 << 20);
    auto volume = fx.mount();
    must_ok(volume->create_directory("dir"));
    write_file(*volume, "contiguous", pattern(1, 20000));
    write_file(*volume, "blocker", pattern(2, 4096));
    File chained = must(volume->open("chained", OpenMode::read_write, Disposition::create_new));
    must_ok(chained.write(0, pattern(3, 8192)));
    must_ok(chained.flush());
    write_file(*volume, "blocker2", pattern(4, 4096));
    must_ok(chained.write(8192, pattern(5, 8192))); // cannot grow in place: a FAT chain
    EXPECT_FALSE(chained.contiguous());
    must_ok(chained.close());
    write_file(*volume, "dir/inner", pattern(6, 100));
    must_ok(volume->unmount());
    return fx.device.image();
}

struct Image {
    std::vector<uint8_t> bytes;
    Geometry geometry;

    explicit Image(std::vector<uint8_t> image) : bytes(std::move(image)) {
        geometry = must(parse_boot_region(std::span(bytes).first(12 * kSector), kSector,
                                          bytes.size() / kSector));
    }
    uint8_t* at(uint64_t offset) { return bytes.data() + offset; }
    BootSector& boot(int region) { return *reinterpret_cast<BootSector*>(at(region * 12 * 512)); }
    void reseal_boot(int region) {
        uint8_t* base = at(region * 12 * kSector);
        uint32_t sum = boot_checksum({base, 11 * kSector});
        for (uint32_t i = 0; i < kSector; i += 4)
            std::memcpy(base + 11 * kSector + i, &sum, 4);
    }
    uint64_t cluster_offset(uint32_t cluster) { return geometry.cluster_sector(cluster) * kSector; }
    uint32_t* fat(uint32_t index) {
        return reinterpret_cast<uint32_t*>(at(geometry.fat_offset * uint64_t(kSector) + index * 4));
    }
    uint8_t* root_entry_of_type(uint8_t type) {
        uint8_t* root = at(cluster_offset(geometry.root_cluster));
        for (uint32_t i = 0; i < geometry.cluster_size() / 32; ++i)
            if (root[i * 32] == type)
                return root + i * 32;
        return nullptr;
    }
    // The File entry of an ASCII-named set in the directory starting at `cluster`.
    uint8_t* file_entry(const std::string& name, uint32_t cluster = 0) {
        uint8_t* dir = at(cluster_offset(cluster ? cluster : geometry.root_cluster));
        for (uint32_t i = 0; i < geometry.cluster_size() / 32; ++i) {
            uint8_t* e = dir + i * 32;
            if (e[0] != kEntryFile || e[32 + 3] != name.size())
                continue;
            bool match = true;
            for (size_t c = 0; c < name.size() && match; ++c)
                match = e[64 + 2 + c * 2] == name[c];
            if (match)
                return e;
        }
        ADD_FAILURE() << "no entry " << name;
        return nullptr;
    }
    StreamExtensionEntry& stream_of(uint8_t* file) {
        return *reinterpret_cast<StreamExtensionEntry*>(file + 32);
    }
    void reseal_set(uint8_t* file) {
        EntrySetChecksum sum;
        for (uint32_t i = 0; i <= file[1]; ++i)
            sum.add({file + i * 32, 32}, i == 0);
        uint16_t value = sum.value();
        std::memcpy(file + 2, &value, 2);
    }
    void set_bitmap_bit(uint32_t cluster, bool value) {
        uint64_t bitmap = cluster_offset(root_entry_of_type(kEntryAllocationBitmap)[20] |
                                         root_entry_of_type(kEntryAllocationBitmap)[21] << 8);
        uint32_t bit = cluster - 2;
        uint8_t& byte = bytes[bitmap + bit / 8];
        byte = value ? byte | (1 << (bit % 8)) : byte & ~(1 << (bit % 8));
    }
};

class ExfatCorruption : public ::testing::Test {
protected:
    static void SetUpTestSuite() { pristine_ = new std::vector<uint8_t>(make_image()); }
    static void TearDownTestSuite() { delete pristine_; }

    // Applies `damage`, mounts, and checks the error and that nothing was written.
    void expect_refused(const std::function<void(Image&)>& damage, const char* expected,
                        ErrorCode code = ErrorCode::corrupt) {
        Image image(*pristine_);
        damage(image);
        std::vector<uint8_t> before = image.bytes;
        MemorySectorDevice device(kSector, image.bytes);
        vhdx::testing::HeapAllocator allocator;
        FixedClock clock;
        Volume volume(device, allocator, clock);
        auto result = volume.mount();
        ASSERT_TRUE(result.is_error()) << "mounted a volume damaged for: " << expected;
        EXPECT_EQ(result.error().code(), code) << result.error().message();
        EXPECT_NE(std::strstr(result.error().message(), expected), nullptr)
            << "got: " << result.error().message() << "\nwanted: " << expected;
        EXPECT_EQ(device.writes(), 0u);
        EXPECT_TRUE(device.image() == before);
        EXPECT_EQ(allocator.live_bytes(), 0u);
    }

    static std::vector<uint8_t>* pristine_;
};
std::vector<uint8_t>* ExfatCorruption::pristine_ = nullptr;

TEST_F(ExfatCorruption, PristineImageMounts) {
    MemorySectorDevice device(kSector, *pristine_);
    vhdx::testing::HeapAllocator allocator;
    FixedClock clock;
    Volume volume(device, allocator, clock);
    EXFAT_ASSERT_OK(volume.mount(MountOptions{true, 4, 8}));
    EXPECT_EQ(volume.info().check.files, 5u);
    EXPECT_EQ(volume.info().check.directories, 1u);
}

TEST_F(ExfatCorruption, BootRegions) {
    expect_refused([](Image& i) { i.at(0)[200] ^= 1; },
                   "main boot region is damaged (the backup region is intact)");
    expect_refused([](Image& i) { i.at(12 * 512)[200] ^= 1; }, "backup boot region is damaged");
    expect_refused(
        [](Image& i) {
            i.at(0)[200] ^= 1;
            i.at(12 * 512)[200] ^= 1;
        },
        "boot region checksum does not match");
    expect_refused(
        [](Image& i) {
            std::memcpy(i.boot(0).file_system_name, "NTFS    ", 8);
            std::memcpy(i.boot(1).file_system_name, "NTFS    ", 8);
        },
        "not an exFAT volume");
    expect_refused(
        [](Image& i) {
            i.at(512 * 3)[511] = 0; // extended boot signature, both regions
            i.at(512 * 15)[511] = 0;
            i.reseal_boot(0);
            i.reseal_boot(1);
        },
        "extended boot sector signature");
    expect_refused(
        [](Image& i) {
            i.boot(1).volume_serial_number ^= 1;
            i.reseal_boot(1);
        },
        "backup boot region differs");
    expect_refused(
        [](Image& i) {
            i.boot(0).volume_flags |= kVolumeFlagMediaFailure;
            i.boot(1).volume_flags |= kVolumeFlagMediaFailure;
        },
        "media failure", ErrorCode::io);
}

TEST_F(ExfatCorruption, Geometry) {
    struct Case {
        std::function<void(BootSector&)> change;
        const char* expected;
        ErrorCode code;
    };
    Case cases[] = {
        {[](BootSector& b) { b.fat_offset = 10; }, "FatOffset overlaps", ErrorCode::corrupt},
        {[](BootSector& b) { b.fat_length = 1; }, "FatLength is too small", ErrorCode::corrupt},
        {[](BootSector& b) { b.cluster_heap_offset = b.fat_offset; }, "FAT overlaps",
         ErrorCode::corrupt},
        {[](BootSector& b) { b.cluster_count += 100; }, "", ErrorCode::corrupt},
        {[](BootSector& b) { b.first_cluster_of_root_directory = 1; },
         "FirstClusterOfRootDirectory", ErrorCode::corrupt},
        {[](BootSector& b) { b.volume_length *= 2; }, "larger than the device", ErrorCode::corrupt},
        {[](BootSector& b) { b.bytes_per_sector_shift = 12; }, "sector size",
         ErrorCode::not_supported},
        {[](BootSector& b) { b.sectors_per_cluster_shift = 20; }, "larger than 32 MiB",
         ErrorCode::corrupt},
        {[](BootSector& b) { b.number_of_fats = 2; }, "TexFAT", ErrorCode::not_supported},
        {[](BootSector& b) { b.file_system_revision = 0x0200; }, "major revision",
         ErrorCode::not_supported},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.expected);
        expect_refused(
            [&](Image& i) {
                for (int r = 0; r < 2; ++r) {
                    c.change(i.boot(r));
                    i.reseal_boot(r);
                }
            },
            c.expected, c.code);
    }
}

TEST_F(ExfatCorruption, FatBitmapAndUpcase) {
    expect_refused([](Image& i) { *i.fat(1) = 0; }, "FAT entries 0 and 1");
    expect_refused([](Image& i) { *i.fat(i.geometry.root_cluster) = 1; },
                   "root directory FAT chain points outside");
    expect_refused([](Image& i) { i.root_entry_of_type(kEntryAllocationBitmap)[0] = 0x01; },
                   "no allocation bitmap entry");
    expect_refused([](Image& i) { i.root_entry_of_type(kEntryUpcaseTable)[0] = 0x02; },
                   "no up-case table entry");
    expect_refused(
        [](Image& i) {
            auto& e = *reinterpret_cast<AllocationBitmapEntry*>(
                i.root_entry_of_type(kEntryAllocationBitmap));
            e.first_cluster = 0;
        },
        "allocation bitmap FirstCluster");
    expect_refused(
        [](Image& i) {
            auto& e = *reinterpret_cast<AllocationBitmapEntry*>(
                i.root_entry_of_type(kEntryAllocationBitmap));
            e.data_length = 1;
        },
        "allocation bitmap is smaller");
    expect_refused(
        [](Image& i) {
            auto& e = *reinterpret_cast<UpcaseTableEntry*>(i.root_entry_of_type(kEntryUpcaseTable));
            i.at(i.cluster_offset(e.first_cluster))[100] ^= 0x20;
        },
        "up-case table checksum mismatch");
    expect_refused(
        [](Image& i) {
            auto& e = *reinterpret_cast<VolumeLabelEntry*>(i.root_entry_of_type(kEntryVolumeLabel));
            e.character_count = 12;
        },
        "volume label is longer");
}

TEST_F(ExfatCorruption, EntrySets) {
    expect_refused([](Image& i) { i.file_entry("contiguous")[64 + 4] ^= 1; },
                   "entry set checksum mismatch");
    expect_refused(
        [](Image& i) {
            uint8_t* e = i.file_entry("contiguous");
            i.stream_of(e).name_hash ^= 0x100;
            i.reseal_set(e);
        },
        "NameHash");
    expect_refused(
        [](Image& i) {
            uint8_t* e = i.file_entry("contiguous");
            i.stream_of(e).first_cluster = i.geometry.cluster_count + 5;
            i.reseal_set(e);
        },
        "FirstCluster is outside the cluster heap");
    expect_refused(
        [](Image& i) {
            uint8_t* e = i.file_entry("contiguous");
            i.stream_of(e).valid_data_length = i.stream_of(e).data_length + 1;
            i.reseal_set(e);
        },
        "ValidDataLength is larger");
    expect_refused(
        [](Image& i) {
            uint8_t* e = i.file_entry("dir");
            i.stream_of(e).data_length -= 512;
            i.stream_of(e).valid_data_length -= 512;
            i.reseal_set(e);
        },
        "multiple of the cluster size");
    expect_refused(
        [](Image& i) {
            uint8_t* e = i.file_entry("contiguous");
            e[32] = kEntryFileName; // the stream extension is gone
            i.reseal_set(e);
        },
        "not followed by a Stream Extension");
    expect_refused(
        [](Image& i) {
            uint8_t* e = i.file_entry("contiguous");
            e[1] = 1;
            i.reseal_set(e);
        },
        "fewer than 2 secondary");
    expect_refused(
        [](Image& i) {
            // An unknown critical primary entry inside a subdirectory.
            uint32_t dir = i.stream_of(i.file_entry("dir")).first_cluster;
            uint8_t* entries = i.at(i.cluster_offset(dir));
            uint32_t n = 0;
            while (entries[n * 32] != 0)
                ++n;
            entries[n * 32] = 0x86;
        },
        "unrecognized critical primary");
}

TEST_F(ExfatCorruption, ClusterAccounting) {
    expect_refused(
        [](Image& i) {
            uint8_t* e = i.file_entry("blocker");
            i.stream_of(e).first_cluster = i.stream_of(i.file_entry("contiguous")).first_cluster;
            i.reseal_set(e);
        },
        "used twice");
    expect_refused(
        [](Image& i) {
            i.set_bitmap_bit(i.stream_of(i.file_entry("blocker")).first_cluster, false);
        },
        "marked free");
    expect_refused(
        [](Image& i) {
            uint32_t first = i.stream_of(i.file_entry("chained")).first_cluster;
            *i.fat(first) = kFatEndOfChain;
        },
        "ends before its data");
    expect_refused(
        [](Image& i) {
            // The chain's second cluster points back at its first: a loop.
            uint32_t first = i.stream_of(i.file_entry("chained")).first_cluster;
            *i.fat(*i.fat(first)) = first;
        },
        "used twice");
    expect_refused(
        [](Image& i) {
            // One more cluster linked on a clean volume: not a power-cut leftover.
            uint32_t c = i.stream_of(i.file_entry("chained")).first_cluster;
            while (*i.fat(c) != kFatEndOfChain)
                c = *i.fat(c);
            uint32_t spare = i.geometry.cluster_count; // far away, free
            *i.fat(c) = spare;
            *i.fat(spare) = kFatEndOfChain;
        },
        "longer than its file");
    expect_refused(
        [](Image& i) {
            uint32_t c = i.stream_of(i.file_entry("chained")).first_cluster;
            *i.fat(*i.fat(c)) = kFatBadCluster;
        },
        "bad cluster");
}

} // namespace
} // namespace halcyon::exfat::testing
