// FileBlockIo and friends over POSIX calls.
#include "vhdx/tool/file_block_io.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace halcyon::vhdx::tool {

std::unique_ptr<FileBlockIo> FileBlockIo::open(const std::string& path, Mode mode,
                                               std::string& error) {
    int flags = mode == Mode::read_only ? O_RDONLY : O_RDWR;
    if (mode == Mode::create)
        flags |= O_CREAT | O_EXCL;
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) {
        error = path + ": " + std::strerror(errno);
        return nullptr;
    }
    struct stat st {};
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        ::close(fd);
        error = path + ": is a directory";
        return nullptr;
    }
    return std::unique_ptr<FileBlockIo>(new FileBlockIo(fd, path, mode == Mode::read_only));
}

FileBlockIo::~FileBlockIo() {
    ::close(fd_);
}

ErrorOr<void> FileBlockIo::read(uint64_t offset, std::span<uint8_t> buffer) {
    size_t done = 0;
    while (done < buffer.size()) {
        ssize_t n = ::pread(fd_, buffer.data() + done, buffer.size() - done,
                            static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            last_errno_ = errno;
            return Error(ErrorCode::io, "file: read failed");
        }
        if (n == 0)
            return Error(ErrorCode::io, "file: read past the end of the file");
        done += static_cast<size_t>(n);
    }
    return {};
}

ErrorOr<void> FileBlockIo::write(uint64_t offset, std::span<const uint8_t> data) {
    if (read_only_)
        return Error(ErrorCode::permission, "file: opened read-only");
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done,
                             static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            last_errno_ = n < 0 ? errno : ENOSPC;
            return Error(ErrorCode::io, "file: write failed");
        }
        done += static_cast<size_t>(n);
    }
    return {};
}

ErrorOr<void> FileBlockIo::flush() {
    if (read_only_ || defer_flushes_)
        return {};
    return sync();
}

ErrorOr<void> FileBlockIo::sync() {
    if (read_only_)
        return {};
    // fdatasync is the barrier the library's ordering relies on: it returns only once every
    // earlier write (and the file size) is on stable storage.
    if (::fdatasync(fd_) != 0) {
        last_errno_ = errno;
        return Error(ErrorCode::io, "file: fdatasync failed");
    }
    return {};
}

ErrorOr<uint64_t> FileBlockIo::size() {
    struct stat st {};
    if (fstat(fd_, &st) != 0) {
        last_errno_ = errno;
        return Error(ErrorCode::io, "file: fstat failed");
    }
    return static_cast<uint64_t>(st.st_size);
}

ErrorOr<void> FileBlockIo::set_size(uint64_t size) {
    if (read_only_)
        return Error(ErrorCode::permission, "file: opened read-only");
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
        last_errno_ = errno;
        return Error(ErrorCode::io, "file: ftruncate failed");
    }
    return {};
}

std::string directory_of(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    if (slash == 0)
        return "/";
    return path.substr(0, slash);
}

std::string posix_path(std::string_view locator_path) {
    std::string path(locator_path);
    for (char& c : path)
        if (c == '\\')
            c = '/';
    while (path.size() > 2 && path[0] == '.' && path[1] == '/')
        path.erase(0, 2);
    return path;
}

ErrorOr<BlockIo*> FileParentResolver::open_parent(const BlockIo& child,
                                                  std::string_view relative_path,
                                                  std::string_view absolute_path) {
    attempts_.clear();
    auto known = paths_.find(&child);
    std::string child_dir = known == paths_.end() ? "." : directory_of(known->second);
    std::string candidates[2];
    if (!relative_path.empty())
        candidates[0] = child_dir + "/" + posix_path(relative_path);
    if (!absolute_path.empty())
        candidates[1] = posix_path(absolute_path);
    for (const std::string& candidate : candidates) {
        if (candidate.empty())
            continue;
        if (!attempts_.empty())
            attempts_ += ", ";
        attempts_ += candidate;
        std::string error;
        auto io = FileBlockIo::open(candidate, FileBlockIo::Mode::read_only, error);
        if (!io)
            continue;
        BlockIo* raw = io.get();
        paths_[raw] = candidate;
        parent_of_[&child] = candidate;
        last_opened_ = candidate;
        open_[raw] = std::move(io);
        return raw;
    }
    return Error(ErrorCode::not_found,
                 "differencing disk: the parent file was not found (tried the locator's "
                 "relative and absolute paths)");
}

void FileParentResolver::close_parent(BlockIo* parent) {
    paths_.erase(parent);
    open_.erase(parent);
}

std::string FileParentResolver::parent_path_of(const BlockIo& child) const {
    auto it = parent_of_.find(&child);
    return it == parent_of_.end() ? std::string() : it->second;
}

void UrandomSource::fill(std::span<uint8_t> bytes) {
    int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    size_t done = 0;
    while (fd >= 0 && done < bytes.size()) {
        ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
        if (n <= 0 && errno != EINTR)
            break;
        if (n > 0)
            done += static_cast<size_t>(n);
    }
    if (fd >= 0)
        ::close(fd);
    if (done < bytes.size()) {
        // Without entropy a GUID could repeat: better to stop than to make look-alike disks.
        std::fputs("vhdx: cannot read /dev/urandom\n", stderr);
        std::exit(3);
    }
}

void* MallocAllocator::allocate(size_t size, size_t align) {
    return std::aligned_alloc(align, (size + align - 1) / align * align);
}

void MallocAllocator::deallocate(void* pointer, size_t, size_t) {
    std::free(pointer);
}

} // namespace halcyon::vhdx::tool
