// libFuzzer target: hostile bytes as a VHDX file through every way of opening it.
//
// Input layout. A real VHDX is megabytes of mostly zeros, so the input is "packed": byte 0
// selects the layout, byte 1 the file size in MiB (4..19), and the rest fills, in order, the
// windows below: the places where the file identifier, both headers, both region tables, the
// log's first entries, the metadata table and items (Halcyon puts each item in a page of its own),
// the BAT and the first payload bytes sit in files made by qemu-img (log 1 MiB, BAT 2 MiB, metadata
// 3 MiB) and by Halcyon (log 1 MiB, metadata 2 MiB, BAT 3 MiB). Everything else is zero. Layout
// byte odd: the remaining bytes are the whole file as is (short, truncated files).
//
// Per input: a read-only open without replay, a read-only open with replay (on a writable
// copy), and a writable open; each successful open reads a few ranges and inspects every block
// state and metadata item. A writable open also writes, trims and closes, and the result must
// open again (a file we accepted and closed cleanly must stay valid). Every rejection must
// carry a message.
#include "vhdx/disk.hpp"
#include "vhdx/testing/fault_io_raw_image.hpp"
#include "vhdx/testing/memory_block_io.hpp"

#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace halcyon;
using namespace halcyon::vhdx;
using namespace halcyon::vhdx::testing;

namespace {

struct Window {
    uint64_t offset;
    uint64_t length;
};
constexpr uint64_t K = 1024, M = 1024 * 1024;
// Writable copies may grow to this much (replay may extend the file; blocks get allocated).
constexpr uint64_t kCap = 64 * M;
constexpr Window kWindows[] = {
    {0, 4 * K},       {64 * K, 4 * K},         {128 * K, 4 * K}, {192 * K, 4 * K},
    {256 * K, 4 * K}, {1 * M, 64 * K},         {2 * M, 8 * K},   {2 * M + 64 * K, 24 * K},
    {3 * M, 8 * K},   {3 * M + 64 * K, 4 * K}, {4 * M, 4 * K},
};

void build_image(const uint8_t* data, size_t size, RawImage& image) {
    image.resize(0);
    if (size < 2 || (data[0] & 1)) {
        size_t skip = size < 2 ? 0 : 1;
        image.assign(data + skip, std::min<size_t>(size - skip, kCap));
        return;
    }
    image.resize((4 + data[1] % 16) * M);
    size_t at = 2;
    for (const Window& w : kWindows) {
        if (at >= size)
            break;
        size_t n = std::min<size_t>(w.length, size - at);
        if (w.offset + n > image.size())
            break;
        std::memcpy(image.data() + w.offset, data + at, n);
        at += n;
    }
}

// A resolver that hands out the file itself as its own parent: differencing disks whose
// locator names anything resolve into a cycle, which must end at the depth limit.
class SelfResolver : public ParentResolver {
public:
    explicit SelfResolver(RawImage& image) : io_(image, true) {}
    ErrorOr<BlockIo*> open_parent(const BlockIo&, std::string_view, std::string_view) override {
        return static_cast<BlockIo*>(&io_);
    }
    void close_parent(BlockIo*) override {}

private:
    RawImageBlockIo io_;
};

// VHDX_FUZZ_VERBOSE=1 prints what each open did (to see which seeds reach how deep).
bool verbose() {
    static bool value = std::getenv("VHDX_FUZZ_VERBOSE") != nullptr;
    return value;
}

void require_message(const Error& error, const char* what) {
    if (verbose())
        std::fprintf(stderr, "  %s: %s\n", what, error.message() ? error.message() : "(null)");
    if (error.message() == nullptr || error.message()[0] == '\0') {
        std::fprintf(stderr, "%s: rejection without a message (code %d)\n", what,
                     static_cast<int>(error.code()));
        std::abort();
    }
}

void exercise(Disk* disk) {
    DiskInfo info = disk->info();
    if (verbose())
        std::fprintf(stderr, "  opened: size %llu block %u sector %u type %d replayed %d\n",
                     static_cast<unsigned long long>(info.virtual_size), info.block_size,
                     info.logical_sector_size, static_cast<int>(info.type), info.log_replayed);
    uint32_t sector = info.logical_sector_size;
    static uint8_t storage[64 * K]; // not a vector: see fault_io_raw_image.hpp
    std::span<uint8_t> buffer(storage);
    uint64_t ranges[] = {0, info.virtual_size / 2, info.virtual_size - sector};
    for (uint64_t offset : ranges) {
        offset = offset / sector * sector;
        uint64_t length = std::min<uint64_t>(buffer.size(), info.virtual_size - offset);
        auto read = disk->read(offset, {buffer.data(), length});
        if (read.is_error())
            require_message(read.error(), "read");
    }
    for (uint64_t block = 0; block < info.payload_blocks && block < 4096; ++block) {
        auto state = disk->block_state(block, nullptr);
        if (state.is_error())
            require_message(state.error(), "block_state");
    }
    for (uint32_t i = 0; i < disk->metadata_item_count(); ++i) {
        MetadataItemInfo item = disk->metadata_item(i);
        auto read = disk->read_metadata(item.id, {buffer.data(), 512});
        if (read.is_error())
            require_message(read.error(), "read_metadata");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static RawImage image(kCap), copy(kCap);
    build_image(data, size, image);
    HeapAllocator allocator;
    SeededRandom random(1);
    SelfResolver resolver(image);

    // 1. Read-only, no replay, on a read-only file.
    {
        RawImageBlockIo io(image, true);
        OpenOptions options;
        options.read_only = true;
        options.parent_resolver = &resolver;
        auto opened = Disk::open(io, allocator, options);
        if (opened.is_error()) {
            require_message(opened.error(), "read-only open");
        } else {
            exercise(opened.value());
            if (opened.value()->close().is_error())
                std::abort(); // closing a read-only disk writes nothing and cannot fail
        }
    }
    // 2. Read-only with replay allowed, on a writable copy.
    {
        copy.assign(image);
        RawImageBlockIo io(copy);
        OpenOptions options;
        options.read_only = true;
        options.allow_replay = true;
        options.random = &random;
        options.parent_resolver = &resolver;
        auto opened = Disk::open(io, allocator, options);
        if (opened.is_error()) {
            require_message(opened.error(), "replaying open");
        } else {
            exercise(opened.value());
            opened.value()->abandon();
        }
    }
    // 3. Writable: change it, close it, and it must open again.
    {
        copy.assign(image);
        RawImageBlockIo io(copy);
        OpenOptions options;
        options.random = &random;
        options.parent_resolver = &resolver;
        auto opened = Disk::open(io, allocator, options);
        if (opened.is_error()) {
            require_message(opened.error(), "writable open");
        } else {
            Disk* disk = opened.value();
            exercise(disk);
            DiskInfo info = disk->info();
            static uint8_t pattern[4096];
            std::memset(pattern, 0x5A, sizeof pattern);
            std::span<const uint8_t> sector(pattern, info.logical_sector_size);
            bool changed = !disk->write(0, sector).is_error();
            auto trimmed =
                disk->trim(0, std::min<uint64_t>(info.virtual_size, 2 * info.block_size));
            if (trimmed.is_error())
                require_message(trimmed.error(), "trim");
            auto closed = disk->close();
            if (closed.is_error()) {
                require_message(closed.error(), "close");
            } else if (changed) {
                OpenOptions again;
                again.read_only = true;
                again.parent_resolver = &resolver;
                auto reopened = Disk::open(io, allocator, again);
                if (reopened.is_error()) {
                    std::fprintf(stderr, "accepted, written and closed, then refused: %s\n",
                                 reopened.error().message());
                    std::abort();
                }
                reopened.value()->abandon();
            }
        }
    }
    if (allocator.live_bytes() != 0) {
        std::fprintf(stderr, "memory leaked: %zu bytes\n", allocator.live_bytes());
        std::abort();
    }
    return 0;
}
