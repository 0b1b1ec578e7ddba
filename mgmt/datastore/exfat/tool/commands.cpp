// The exfat-tool commands. Each mounts the image, does one thing, and unmounts cleanly.
#include "mgmt/datastore/exfat/tool/commands.hpp"

#include "mgmt/datastore/exfat/format.hpp"
#include "mgmt/datastore/exfat/layout.hpp"
#include "mgmt/datastore/exfat/tool/file_sector_device.hpp"
#include "mgmt/datastore/exfat/volume.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace halcyon::exfat::tool {
namespace {

constexpr size_t kCopyChunk = 1 << 20;

int fail(const std::string& what, const char* message) {
    std::fprintf(stderr, "exfat-tool: %s: %s\n", what.c_str(), message);
    return 1;
}
int fail(const std::string& what, const Error& error) {
    return fail(what, error.message());
}

// A mounted image for the duration of one command.
struct Session {
    std::unique_ptr<FileSectorDevice> device;
    MallocAllocator allocator;
    SystemClock clock;
    std::unique_ptr<Volume> volume;

    int open(const Context& context, bool writable) {
        // The sector size is whatever the volume says (BytesPerSectorShift at byte 108).
        uint32_t sector_size = 512;
        int fd = ::open(context.image.c_str(), O_RDONLY);
        if (fd < 0)
            return fail(context.image, std::strerror(errno));
        uint8_t shift = 0;
        if (pread(fd, &shift, 1, static_cast<off_t>(context.offset + 108)) == 1 && shift >= 9 &&
            shift <= 12)
            sector_size = 1u << shift;
        ::close(fd);
        std::string error;
        device = FileSectorDevice::open(context.image, writable, sector_size, context.offset,
                                        context.length, error);
        if (!device)
            return fail("open", error.c_str());
        if (context.defer_sync)
            device->defer_flushes();
        volume = std::make_unique<Volume>(*device, allocator, clock);
        auto mounted = volume->mount(MountOptions{!writable, 64, 64});
        if (mounted.is_error())
            return fail(context.image, mounted.error());
        return 0;
    }
    int close() {
        auto result = volume->unmount();
        if (result.is_error())
            return fail("unmount", result.error());
        auto synced = device->sync();
        if (synced.is_error())
            return fail("sync", synced.error());
        return 0;
    }
};

std::string join(const std::string& directory, const std::string& name) {
    if (directory.empty() || directory == "/")
        return "/" + name;
    return directory.back() == '/' ? directory + name : directory + "/" + name;
}

std::string basename_of(std::string path) {
    while (path.size() > 1 && path.back() == '/')
        path.pop_back();
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// mkdir -p inside the volume.
ErrorOr<void> make_parents(Volume& volume, const std::string& path, bool include_last) {
    std::string current;
    size_t at = 0;
    while (at < path.size()) {
        size_t slash = path.find('/', at);
        if (slash == std::string::npos)
            slash = path.size();
        std::string component = path.substr(at, slash - at);
        at = slash + 1;
        if (component.empty())
            continue;
        bool last = at >= path.size();
        current += "/" + component;
        if (last && !include_last)
            break;
        EntryInfo info;
        if (!volume.stat(current, info).is_error()) {
            if (!info.directory)
                return Error(ErrorCode::invalid_argument, "exfat-tool: a path component is a file");
            continue;
        }
        TRY(volume.create_directory(current));
    }
    return {};
}

int put_file(Volume& volume, const std::string& source, const std::string& dest) {
    int fd = ::open(source.c_str(), O_RDONLY);
    if (fd < 0)
        return fail(source, std::strerror(errno));
    auto opened = volume.open(dest, OpenMode::read_write, Disposition::create_or_truncate);
    if (opened.is_error()) {
        ::close(fd);
        return fail(dest, opened.error());
    }
    File file = opened.release_value();
    std::vector<uint8_t> buffer(kCopyChunk);
    uint64_t offset = 0;
    for (;;) {
        ssize_t n = read(fd, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ::close(fd);
            return fail(source, std::strerror(errno));
        }
        if (n == 0)
            break;
        auto written = file.write(offset, {buffer.data(), static_cast<size_t>(n)});
        if (written.is_error()) {
            ::close(fd);
            return fail(dest, written.error());
        }
        offset += static_cast<uint64_t>(n);
    }
    ::close(fd);
    auto closed = file.close();
    return closed.is_error() ? fail(dest, closed.error()) : 0;
}

int put_tree(Volume& volume, const std::string& source, const std::string& dest) {
    struct stat st;
    if (stat(source.c_str(), &st) != 0)
        return fail(source, std::strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return put_file(volume, source, dest);
    auto made = make_parents(volume, dest, true);
    if (made.is_error())
        return fail(dest, made.error());
    std::vector<std::string> names;
    if (DIR* dir = opendir(source.c_str())) {
        while (dirent* entry = readdir(dir))
            if (std::strcmp(entry->d_name, ".") && std::strcmp(entry->d_name, ".."))
                names.push_back(entry->d_name);
        closedir(dir);
    } else {
        return fail(source, std::strerror(errno));
    }
    for (const std::string& name : names)
        if (int rc = put_tree(volume, source + "/" + name, join(dest, name)))
            return rc;
    return 0;
}

int get_file(Volume& volume, const std::string& source, const std::string& dest) {
    auto opened = volume.open(source, OpenMode::read);
    if (opened.is_error())
        return fail(source, opened.error());
    File file = opened.release_value();
    int fd = dest == "-" ? 1 : ::open(dest.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return fail(dest, std::strerror(errno));
    std::vector<uint8_t> buffer(kCopyChunk);
    uint64_t offset = 0;
    int rc = 0;
    while (offset < file.size()) {
        auto n = file.read(offset, buffer);
        if (n.is_error()) {
            rc = fail(source, n.error());
            break;
        }
        size_t got = n.value();
        if (::write(fd, buffer.data(), got) != static_cast<ssize_t>(got)) {
            rc = fail(dest, std::strerror(errno));
            break;
        }
        offset += got;
    }
    if (fd != 1)
        ::close(fd);
    return rc;
}

int get_tree(Volume& volume, const std::string& source, const std::string& dest) {
    EntryInfo info;
    auto found = volume.stat(source, info);
    if (found.is_error())
        return fail(source, found.error());
    if (!info.directory)
        return get_file(volume, source, dest);
    if (mkdir(dest.c_str(), 0755) != 0 && errno != EEXIST)
        return fail(dest, std::strerror(errno));
    std::vector<std::string> names;
    auto reader = volume.open_directory(source);
    if (reader.is_error())
        return fail(source, reader.error());
    for (;;) {
        auto next = reader.value().next(info);
        if (next.is_error())
            return fail(source, next.error());
        if (!next.value())
            break;
        names.emplace_back(info.name, info.name_length);
    }
    for (const std::string& name : names)
        if (int rc = get_tree(volume, join(source, name), dest + "/" + name))
            return rc;
    return 0;
}

int list_tree(Volume& volume, const std::string& path, bool recursive, bool details) {
    auto reader = volume.open_directory(path);
    if (reader.is_error())
        return fail(path, reader.error());
    std::vector<std::string> directories;
    EntryInfo info;
    for (;;) {
        auto next = reader.value().next(info);
        if (next.is_error())
            return fail(path, next.error());
        if (!next.value())
            break;
        std::string name(info.name, info.name_length);
        std::string shown = recursive ? join(path, name) : name;
        if (details)
            std::printf("%c %12llu %04u-%02u-%02u %02u:%02u:%02u %s %s\n",
                        info.directory ? 'd' : '-', (unsigned long long)info.size,
                        info.modified.year, info.modified.month, info.modified.day,
                        info.modified.hour, info.modified.minute, info.modified.second,
                        info.contiguous ? "contiguous" : "fat-chain ", shown.c_str());
        else
            std::printf("%c %12llu %s\n", info.directory ? 'd' : '-', (unsigned long long)info.size,
                        shown.c_str());
        if (info.directory && recursive)
            directories.push_back(join(path, name));
    }
    for (const std::string& directory : directories)
        if (int rc = list_tree(volume, directory, recursive, details))
            return rc;
    return 0;
}

ErrorOr<void> remove_tree(Volume& volume, const std::string& path) {
    EntryInfo info;
    TRY(volume.stat(path, info));
    if (info.directory) {
        std::vector<std::string> names;
        DirectoryReader reader = TRY(volume.open_directory(path));
        while (TRY(reader.next(info)))
            names.emplace_back(info.name, info.name_length);
        for (const std::string& name : names)
            TRY(remove_tree(volume, join(path, name)));
    }
    return volume.remove(path);
}

} // namespace

bool parse_size(const std::string& text, uint64_t& out) {
    char* end = nullptr;
    errno = 0;
    unsigned long long value = std::strtoull(text.c_str(), &end, 0);
    if (errno != 0 || end == text.c_str())
        return false;
    std::string suffix(end);
    uint64_t scale = 1;
    if (suffix == "K" || suffix == "KiB" || suffix == "k")
        scale = 1ull << 10;
    else if (suffix == "M" || suffix == "MiB")
        scale = 1ull << 20;
    else if (suffix == "G" || suffix == "GiB")
        scale = 1ull << 30;
    else if (suffix == "T" || suffix == "TiB")
        scale = 1ull << 40;
    else if (!suffix.empty())
        return false;
    out = value * scale;
    return true;
}

int command_format(const Context& context, const FormatArguments& arguments) {
    // Create or resize the image file (unless a partition range was given).
    if (context.offset == 0 && context.length == 0) {
        int fd = ::open(context.image.c_str(), O_RDWR | O_CREAT, 0644);
        if (fd < 0 || ftruncate(fd, static_cast<off_t>(arguments.size)) != 0)
            return fail(context.image, std::strerror(errno));
        ::close(fd);
    }
    std::string error;
    auto device = FileSectorDevice::open(context.image, true, arguments.sector_size, context.offset,
                                         context.length, error);
    if (!device)
        return fail("format", error.c_str());
    if (context.defer_sync)
        device->defer_flushes();
    MallocAllocator allocator;
    SystemClock clock;
    FormatOptions options;
    options.cluster_size = arguments.cluster_size;
    options.label = arguments.label;
    options.serial = arguments.serial;
    // Inside a partition range, SIZE is the volume's size (at most the range).
    if (context.offset != 0 || context.length != 0)
        options.volume_sectors = arguments.size / arguments.sector_size;
    auto result = format(*device, allocator, clock, options);
    if (result.is_error())
        return fail("format", result.error());
    auto synced = device->sync();
    if (synced.is_error())
        return fail("format", synced.error());
    std::printf("formatted %s: %u clusters of %u bytes, serial %08X\n", context.image.c_str(),
                result.value().cluster_count, result.value().cluster_size, result.value().serial);
    return 0;
}

int command_put(const Context& context, const std::string& source, std::string dest) {
    Session session;
    if (int rc = session.open(context, true))
        return rc;
    EntryInfo info;
    if (dest.back() == '/' || (!session.volume->stat(dest, info).is_error() && info.directory))
        dest = join(dest, basename_of(source));
    auto made = make_parents(*session.volume, dest, false);
    if (made.is_error())
        return fail(dest, made.error());
    if (int rc = put_tree(*session.volume, source, dest))
        return rc;
    return session.close();
}

int command_get(const Context& context, const std::string& source, std::string dest) {
    Session session;
    if (int rc = session.open(context, false))
        return rc;
    struct stat st;
    if (dest != "-" && stat(dest.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        dest += "/" + basename_of(source);
    if (int rc = get_tree(*session.volume, source, dest))
        return rc;
    return session.close();
}

int command_ls(const Context& context, const std::string& path, bool recursive, bool details) {
    Session session;
    if (int rc = session.open(context, false))
        return rc;
    if (int rc = list_tree(*session.volume, path, recursive, details))
        return rc;
    return session.close();
}

int command_mkdir(const Context& context, const std::string& path) {
    Session session;
    if (int rc = session.open(context, true))
        return rc;
    auto made = make_parents(*session.volume, path, true);
    if (made.is_error())
        return fail(path, made.error());
    return session.close();
}

int command_rm(const Context& context, const std::string& path, bool recursive) {
    Session session;
    if (int rc = session.open(context, true))
        return rc;
    auto removed = recursive ? remove_tree(*session.volume, path) : session.volume->remove(path);
    if (removed.is_error())
        return fail(path, removed.error());
    return session.close();
}

int command_mv(const Context& context, const std::string& from, const std::string& to) {
    Session session;
    if (int rc = session.open(context, true))
        return rc;
    auto moved = session.volume->rename(from, to);
    if (moved.is_error())
        return fail(from, moved.error());
    return session.close();
}

int command_truncate(const Context& context, const std::string& path, uint64_t size) {
    Session session;
    if (int rc = session.open(context, true))
        return rc;
    auto opened = session.volume->open(path, OpenMode::read_write, Disposition::open_or_create);
    if (opened.is_error())
        return fail(path, opened.error());
    File file = opened.release_value();
    auto resized = file.set_size(size);
    if (resized.is_error())
        return fail(path, resized.error());
    auto closed = file.close();
    if (closed.is_error())
        return fail(path, closed.error());
    return session.close();
}

int command_check(const Context& context) {
    Session session;
    if (int rc = session.open(context, false))
        return rc;
    const VolumeInfo& info = session.volume->info();
    const CheckReport& report = info.check;
    std::printf("%s: clean=%s directories=%u files=%u used_clusters=%llu leaked_clusters=%llu "
                "excess_chains=%u stray_entries=%u duplicate_entries=%u partially_valid_files=%u\n",
                context.image.c_str(), info.was_dirty ? "no" : "yes", report.directories,
                report.files, (unsigned long long)report.used_clusters,
                (unsigned long long)report.leaked_clusters, report.excess_chains,
                report.stray_entries, report.duplicate_entries, report.partially_valid_files);
    int rc = session.close();
    if (rc == 0 && (report.leaked_clusters || report.excess_chains || report.stray_entries ||
                    report.duplicate_entries))
        return fail("check", "the volume has leftovers of an unclean shutdown");
    return rc;
}

int command_info(const Context& context) {
    Session session;
    if (int rc = session.open(context, false))
        return rc;
    const VolumeInfo& info = session.volume->info();
    std::printf("label: %s\nserial: %08X\nrevision: %u.%02u\nsector size: %u\ncluster size: %u\n"
                "clusters: %u\nfree clusters: %llu\ndirty: %s\n",
                info.label, info.serial, info.revision >> 8, info.revision & 0xFF, info.sector_size,
                info.cluster_size, info.cluster_count, (unsigned long long)info.free_clusters,
                info.was_dirty ? "yes" : "no");
    return session.close();
}

} // namespace halcyon::exfat::tool
