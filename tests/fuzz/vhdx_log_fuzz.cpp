// libFuzzer target: log replay over a hostile log. The base is a valid Halcyon disk abandoned
// with a dirty log (block allocations, a trim, a resize, a user metadata item all went through
// it), so the header names an active log. The input patches that log:
//   byte 0: flags. bit 0: after patching, recompute the CRC-32C of every entry header found
//           at a 4 KiB boundary (so mutations reach descriptor and replay logic instead of
//           dying at the checksum); bit 1: also stamp those entries with the header's LogGuid.
//   bytes 1-2: where the patch goes, in 16-byte units from the start of the log (covers 1 MiB).
//   rest: bytes written there.
// Checks: a read-only open without replay is refused with a message; a writable open either
// refuses with a message or replays into a disk that passes the structural check, reads back
// entirely, accepts a write and closes cleanly, and then opens again.
#include "vhdx/crc32c.hpp"
#include "vhdx/disk.hpp"
#include "vhdx/format.hpp"
#include "vhdx/resize.hpp"
#include "vhdx/testing/fault_io_harness.hpp"
#include "vhdx/testing/fault_io_raw_image.hpp"
#include "vhdx/testing/memory_block_io.hpp"

#include <cstdio>
#include <cstdlib>

using namespace halcyon;
using namespace halcyon::vhdx;
using namespace halcyon::vhdx::testing;

namespace {

constexpr uint64_t kCap = 64 * kMiB;

struct Base {
    RawImage image{kCap};
    uint64_t log_offset = 0;
    uint32_t log_length = 0;
    Guid log_guid{};
};

[[noreturn]] void fail(const char* what, const char* detail) {
    std::fprintf(stderr, "%s: %s\n", what, detail == nullptr ? "(null message)" : detail);
    std::abort();
}

const Base& base() {
    static Base made;
    static bool built = [] {
        HeapAllocator allocator;
        SeededRandom random(11);
        MemoryBlockIo io;
        CreateOptions options;
        options.virtual_size = 4 * kMiB;
        options.block_size = 1 * kMiB;
        options.random = &random;
        auto created = Disk::create(io, allocator, options);
        if (created.is_error())
            fail("base create", created.error().message());
        Disk* disk = created.value();
        std::vector<uint8_t> data(64 * 1024, 0x3C);
        bool ok = !disk->write(0, data).is_error() && !disk->write(2 * kMiB, data).is_error() &&
                  !disk->trim(0, kMiB).is_error() && !resize(*disk, 5 * kMiB).is_error() &&
                  !disk->write_metadata(Guid{7, 7, 7, {7, 7, 7, 7, 7, 7, 7, 7}}, data, false)
                       .is_error() &&
                  !disk->write(3 * kMiB, data).is_error();
        if (!ok)
            fail("base", "building the dirty image failed");
        DiskInfo info = disk->info();
        made.log_offset = info.log_offset;
        made.log_length = info.log_length;
        made.log_guid = info.log_guid;
        if (made.log_guid.is_zero())
            fail("base", "the log is not active");
        made.image.resize(io.image().size());
        std::memcpy(made.image.data(), io.image().data(), io.image().size());
        disk->abandon();
        return true;
    }();
    (void)built;
    return made;
}

void fix_entries(RawImage& image, const Base& b, bool stamp_guid) {
    for (uint64_t at = 0; at + sizeof(format::LogEntryHeader) <= b.log_length; at += 4096) {
        uint8_t* p = image.data() + b.log_offset + at;
        format::LogEntryHeader header;
        std::memcpy(&header, p, sizeof header);
        if (header.signature != format::kLogEntrySignature)
            continue;
        if (header.entry_length == 0 || header.entry_length % 4096 != 0 ||
            header.entry_length > b.log_length - at)
            continue; // wrapping entries keep their CRC as fuzzed
        if (stamp_guid)
            std::memcpy(p + offsetof(format::LogEntryHeader, log_guid), &b.log_guid, sizeof(Guid));
        uint32_t crc = crc32c_with_zero_field({p, header.entry_length},
                                              offsetof(format::LogEntryHeader, checksum));
        std::memcpy(p + offsetof(format::LogEntryHeader, checksum), &crc, 4);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const Base& b = base();
    if (size < 3)
        return 0;
    static RawImage image(kCap);
    image.assign(b.image);
    uint64_t at = (uint64_t(data[1]) | uint64_t(data[2]) << 8) * 16;
    size_t length = size - 3;
    if (at < b.log_length) {
        length = std::min<uint64_t>(length, b.log_length - at);
        std::memcpy(image.data() + b.log_offset + at, data + 3, length);
    }
    if (data[0] & 1)
        fix_entries(image, b, (data[0] & 2) != 0);

    HeapAllocator allocator;
    SeededRandom random(5);
    {
        RawImageBlockIo io(image, true);
        OpenOptions options;
        options.read_only = true;
        auto opened = Disk::open(io, allocator, options);
        if (!opened.is_error())
            fail("read-only open", "a dirty log was not refused");
        if (opened.error().message() == nullptr)
            fail("read-only open", nullptr);
    }
    RawImageBlockIo io(image);
    OpenOptions options;
    options.random = &random;
    auto opened = Disk::open(io, allocator, options);
    if (opened.is_error()) {
        if (opened.error().message() == nullptr)
            fail("replaying open", nullptr);
    } else {
        Disk* disk = opened.value();
        std::string problem = check_structure(*disk, image.size());
        if (!problem.empty())
            fail("after replay", problem.c_str());
        DiskInfo info = disk->info();
        static uint8_t storage[64 * 1024]; // not a vector: see fault_io_raw_image.hpp
        std::span<uint8_t> buffer(storage);
        auto read =
            disk->read(0, {buffer.data(), std::min<uint64_t>(buffer.size(), info.virtual_size)});
        if (read.is_error() && read.error().message() == nullptr)
            fail("read", nullptr);
        static uint8_t pattern[4096];
        std::memset(pattern, 0xE1, sizeof pattern);
        std::span<const uint8_t> sector(pattern, info.logical_sector_size);
        auto wrote = disk->write(0, sector);
        if (wrote.is_error() && wrote.error().message() == nullptr)
            fail("write", nullptr);
        auto closed = disk->close();
        if (closed.is_error()) {
            if (closed.error().message() == nullptr)
                fail("close", nullptr);
        } else {
            OpenOptions again;
            again.read_only = true;
            auto reopened = Disk::open(io, allocator, again);
            if (reopened.is_error())
                fail("reopen after replay and clean close", reopened.error().message());
            reopened.value()->abandon();
        }
    }
    if (allocator.live_bytes() != 0)
        fail("leak", "memory not released");
    return 0;
}
