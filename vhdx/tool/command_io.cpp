// vhdx read FILE --offset N --length M  (to standard output)
// vhdx write FILE --offset N            (from standard input)
// Byte ranges need not be sector aligned: partial sectors at either end are read, patched and
// written back whole (read-modify-write), since the disk only does whole logical sectors.
#include "vhdx/tool/commands.hpp"
#include "vhdx/tool/tool_common.hpp"

#include <cerrno>
#include <cstring>
#include <unistd.h>
#include <vector>

namespace halcyon::vhdx::tool {
namespace {

constexpr size_t kChunk = 4 * 1024 * 1024;

bool write_all(int fd, const uint8_t* data, size_t length) {
    while (length > 0) {
        ssize_t n = ::write(fd, data, length);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        length -= static_cast<size_t>(n);
    }
    return true;
}

// Reads up to `length` bytes; fewer only at end of input. -1 on error.
ssize_t read_full(int fd, uint8_t* data, size_t length) {
    size_t done = 0;
    while (done < length) {
        ssize_t n = ::read(fd, data + done, length - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        done += static_cast<size_t>(n);
    }
    return static_cast<ssize_t>(done);
}

bool parse_range_option(const Args& args, const char* name, uint64_t& out, std::string& error) {
    if (!args.has(name)) {
        error = std::string("--") + name + " is required";
        return false;
    }
    auto value = parse_size(args.value(name));
    if (!value)
        value = parse_number(args.value(name));
    if (!value) {
        error = std::string("bad --") + name + " '" + args.value(name) + "'";
        return false;
    }
    out = *value;
    return true;
}

} // namespace

int command_read(int argc, char** argv) {
    Args args;
    std::string error;
    if (!parse_args(argc, argv, 2, {"offset", "length"}, {}, args, error))
        return fail("read: " + error);
    if (args.positional.size() != 1)
        return fail("read: expected exactly one FILE");
    uint64_t offset = 0, length = 0;
    if (!parse_range_option(args, "offset", offset, error) ||
        !parse_range_option(args, "length", length, error))
        return fail("read: " + error);
    auto opened = open_disk(args.positional[0], false, error);
    if (!opened)
        return fail("read: " + error);
    DiskInfo info = opened->disk->info();
    if (offset > info.virtual_size || length > info.virtual_size - offset)
        return fail("read: range ends past the virtual size (" + std::to_string(info.virtual_size) +
                    " bytes)");
    uint64_t sector = info.logical_sector_size;
    std::vector<uint8_t> buffer(kChunk + 2 * sector);
    uint64_t end = offset + length;
    while (offset < end) {
        uint64_t piece = end - offset < kChunk ? end - offset : kChunk;
        uint64_t first = offset / sector * sector;
        uint64_t last = (offset + piece + sector - 1) / sector * sector;
        auto result = opened->disk->read(first, {buffer.data(), last - first});
        if (result.is_error())
            return fail("read: " + describe(result.error(), opened->io.get()));
        if (!write_all(STDOUT_FILENO, buffer.data() + (offset - first), piece))
            return fail(std::string("read: writing to standard output: ") + std::strerror(errno));
        offset += piece;
    }
    return kExitOk;
}

int command_write(int argc, char** argv) {
    Args args;
    std::string error;
    if (!parse_args(argc, argv, 2, {"offset"}, {}, args, error))
        return fail("write: " + error);
    if (args.positional.size() != 1)
        return fail("write: expected exactly one FILE");
    uint64_t offset = 0;
    if (!parse_range_option(args, "offset", offset, error))
        return fail("write: " + error);
    auto opened = open_disk(args.positional[0], true, error);
    if (!opened)
        return fail("write: " + error);
    DiskInfo info = opened->disk->info();
    uint64_t sector = info.logical_sector_size;
    std::vector<uint8_t> input(kChunk);
    std::vector<uint8_t> buffer(kChunk + 2 * sector);
    for (;;) {
        ssize_t got = read_full(STDIN_FILENO, input.data(), input.size());
        if (got < 0)
            return fail(std::string("write: reading standard input: ") + std::strerror(errno));
        if (got == 0)
            break;
        uint64_t piece = static_cast<uint64_t>(got);
        if (offset > info.virtual_size || piece > info.virtual_size - offset)
            return fail("write: data runs past the virtual size (" +
                        std::to_string(info.virtual_size) + " bytes); nothing beyond it written");
        uint64_t first = offset / sector * sector;
        uint64_t last = (offset + piece + sector - 1) / sector * sector;
        // Partial sectors at either end: fetch their current contents first.
        if (first != offset) {
            auto r = opened->disk->read(first, {buffer.data(), sector});
            if (r.is_error())
                return fail("write: " + describe(r.error(), opened->io.get()));
        }
        if (last != offset + piece && (last - sector != first || first == offset)) {
            auto r = opened->disk->read(last - sector,
                                        {buffer.data() + (last - sector - first), sector});
            if (r.is_error())
                return fail("write: " + describe(r.error(), opened->io.get()));
        }
        std::memcpy(buffer.data() + (offset - first), input.data(), piece);
        auto result = opened->disk->write(first, {buffer.data(), last - first});
        if (result.is_error())
            return fail("write: " + describe(result.error(), opened->io.get()));
        offset += piece;
        if (static_cast<size_t>(got) < input.size())
            break;
    }
    auto flushed = opened->disk->flush();
    if (flushed.is_error())
        return fail("write: " + describe(flushed.error(), opened->io.get()));
    if (std::string closed = opened->close(); !closed.empty())
        return fail("write: " + closed);
    return kExitOk;
}

} // namespace halcyon::vhdx::tool
