// Fuzzes exFAT mount (validation and the dirty-volume repair) and what follows it: listing,
// reading, writing, renaming and removing on whatever mounted. The input is a list of patches
// applied to a small valid volume, each aimed at one region (boot, FAT, root directory,
// bitmap, other clusters), so mutations land on structures instead of empty space.
//   patch: region (1 byte), offset (2 bytes, LE), length (1 byte), bytes...
#include "mgmt/datastore/exfat/format.hpp"
#include "mgmt/datastore/exfat/testing/memory_sector_device.hpp"
#include "mgmt/datastore/exfat/volume.hpp"
#include "vhdx/testing/memory_block_io.hpp"

#include <cstring>
#include <string>
#include <vector>

using namespace halcyon;
using namespace halcyon::exfat;

namespace {

constexpr uint32_t kSector = 512;

struct Base {
    std::vector<uint8_t> image;
    uint64_t regions[5];
};

const Base& base() {
    static Base* base = [] {
        auto* b = new Base;
        testing::MemorySectorDevice device(kSector, (2u << 20) / kSector);
        vhdx::testing::HeapAllocator allocator;
        testing::FixedClock clock;
        if (format(device, allocator, clock, FormatOptions{1024, "fuzz", 1, 0}).is_error())
            abort();
        {
            Volume volume(device, allocator, clock);
            if (volume.mount().is_error() || volume.create_directory("a").is_error() ||
                volume.create_directory("a/b").is_error())
                abort();
            auto put = [&](const std::string& path, size_t size) {
                auto file = volume.open(path, OpenMode::read_write, Disposition::create_new);
                if (file.is_error())
                    abort();
                std::vector<uint8_t> data(size, static_cast<uint8_t>(size));
                if (file.value().write(0, data).is_error() || file.value().close().is_error())
                    abort();
            };
            put("a/small", 100);
            put("a/b/" + std::string(200, 'n'), 3000);
            put("chained", 2048);
            put("blocker", 1024);
            auto grow = volume.open("chained", OpenMode::read_write);
            std::vector<uint8_t> more(4096, 7);
            if (grow.is_error() || grow.value().write(2048, more).is_error() ||
                grow.value().close().is_error() || volume.unmount().is_error())
                abort();
        }
        b->image = device.image();
        const auto& boot = *reinterpret_cast<const layout::BootSector*>(b->image.data());
        uint64_t heap = uint64_t(boot.cluster_heap_offset) * kSector;
        uint64_t cluster = 1024;
        b->regions[0] = 0;
        b->regions[1] = uint64_t(boot.fat_offset) * kSector;
        b->regions[2] = heap + (boot.first_cluster_of_root_directory - 2) * cluster;
        b->regions[3] = heap; // the bitmap is the first cluster
        b->regions[4] = b->regions[2] + cluster;
        return b;
    }();
    return *base;
}

void exercise(Volume& volume) {
    // List everything (bounded), read every file, then change things.
    std::vector<std::string> directories{"/"};
    std::vector<std::string> files;
    for (size_t i = 0; i < directories.size() && i < 64; ++i) {
        auto reader = volume.open_directory(directories[i]);
        if (reader.is_error())
            continue;
        EntryInfo info;
        for (int n = 0; n < 256; ++n) {
            auto next = reader.value().next(info);
            if (next.is_error() || !next.value())
                break;
            std::string path = directories[i] + "/" + std::string(info.name, info.name_length);
            (info.directory ? directories : files).push_back(path);
        }
    }
    std::vector<uint8_t> buffer(8192);
    for (const std::string& path : files) {
        auto file = volume.open(path, OpenMode::read);
        if (!file.is_error())
            (void)file.value().read(0, buffer);
    }
    auto file = volume.open("new-file", OpenMode::read_write, Disposition::open_or_create);
    if (!file.is_error()) {
        (void)file.value().write(1000, buffer);
        (void)file.value().set_size(500);
        (void)file.value().close();
    }
    (void)volume.create_directory("a/new-dir");
    if (!files.empty()) {
        (void)volume.rename(files[0], "renamed");
        (void)volume.remove(files.back());
    }
    (void)volume.unmount();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const Base& b = base();
    std::vector<uint8_t> image = b.image;
    size_t at = 0;
    while (at + 4 <= size) {
        uint8_t region = data[at] % 5;
        uint64_t offset = b.regions[region] + (data[at + 1] | data[at + 2] << 8);
        size_t length = data[at + 3];
        at += 4;
        for (size_t i = 0; i < length && at < size; ++i, ++at)
            if (offset + i < image.size())
                image[offset + i] = data[at];
    }
    testing::MemorySectorDevice device(kSector, std::move(image));
    vhdx::testing::HeapAllocator allocator;
    testing::FixedClock clock;
    {
        Volume volume(device, allocator, clock);
        if (!volume.mount(MountOptions{false, 8, 8}).is_error())
            exercise(volume);
    }
    // Whatever happened, a volume we unmounted must mount again.
    if (allocator.live_bytes() != 0)
        abort();
    return 0;
}
