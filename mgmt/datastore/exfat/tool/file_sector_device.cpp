#include "mgmt/datastore/exfat/tool/file_sector_device.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

namespace halcyon::exfat::tool {

std::unique_ptr<FileSectorDevice> FileSectorDevice::open(const std::string& path, bool writable,
                                                         uint32_t sector_size, uint64_t offset,
                                                         uint64_t length, std::string& error) {
    int fd = ::open(path.c_str(), writable ? O_RDWR : O_RDONLY);
    if (fd < 0) {
        error = path + ": " + std::strerror(errno);
        return nullptr;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        error = path + ": " + std::strerror(errno);
        ::close(fd);
        return nullptr;
    }
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (offset > size || (length != 0 && length > size - offset)) {
        error = path + ": the volume range lies outside the file";
        ::close(fd);
        return nullptr;
    }
    std::unique_ptr<FileSectorDevice> device(new FileSectorDevice());
    device->fd_ = fd;
    device->writable_ = writable;
    device->sector_size_ = sector_size;
    device->offset_ = offset;
    device->sectors_ = (length ? length : size - offset) / sector_size;
    return device;
}

FileSectorDevice::~FileSectorDevice() {
    if (fd_ >= 0)
        ::close(fd_);
}

ErrorOr<void> FileSectorDevice::read(uint64_t sector, std::span<uint8_t> buffer) {
    if (sector > sectors_ || buffer.size() / sector_size_ > sectors_ - sector)
        return Error(ErrorCode::io, "image: read past the end of the volume");
    size_t done = 0;
    while (done < buffer.size()) {
        ssize_t n = pread(fd_, buffer.data() + done, buffer.size() - done,
                          static_cast<off_t>(offset_ + sector * sector_size_ + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return Error(ErrorCode::io, "image: read failed");
        done += static_cast<size_t>(n);
    }
    return {};
}

ErrorOr<void> FileSectorDevice::write(uint64_t sector, std::span<const uint8_t> data) {
    if (!writable_)
        return Error(ErrorCode::permission, "image: opened read-only");
    if (sector > sectors_ || data.size() / sector_size_ > sectors_ - sector)
        return Error(ErrorCode::io, "image: write past the end of the volume");
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = pwrite(fd_, data.data() + done, data.size() - done,
                           static_cast<off_t>(offset_ + sector * sector_size_ + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return Error(ErrorCode::io, "image: write failed");
        done += static_cast<size_t>(n);
    }
    return {};
}

ErrorOr<void> FileSectorDevice::write_zeros(uint64_t sector, uint64_t count,
                                            std::span<const uint8_t> zeros) {
    if (!writable_)
        return Error(ErrorCode::permission, "image: opened read-only");
    if (sector > sectors_ || count > sectors_ - sector)
        return Error(ErrorCode::io, "image: write past the end of the volume");
    if (count == 0)
        return {};
    // KEEP_SIZE: a hole never changes the image's length. Deallocated ranges read as zeros (the
    // guarantee of FALLOC_FL_PUNCH_HOLE, on block devices too), and fdatasync makes it durable
    // like a write.
    if (fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  static_cast<off_t>(offset_ + sector * sector_size_),
                  static_cast<off_t>(count * sector_size_)) == 0)
        return {};
    return SectorDevice::write_zeros(sector, count, zeros);
}

ErrorOr<void> FileSectorDevice::flush() {
    if (defer_flushes_)
        return {};
    return sync();
}

ErrorOr<void> FileSectorDevice::sync() {
    if (writable_ && fdatasync(fd_) != 0)
        return Error(ErrorCode::io, "image: fdatasync failed");
    return {};
}

void* MallocAllocator::allocate(size_t size, size_t align) {
    return std::aligned_alloc(align, (size + align - 1) / align * align);
}

void MallocAllocator::deallocate(void* pointer, size_t, size_t) {
    std::free(pointer);
}

DateTime SystemClock::now() {
    struct timeval tv;
    gettimeofday(&tv, nullptr);
    return datetime_from_unix_seconds(tv.tv_sec, static_cast<uint8_t>(tv.tv_usec / 10000));
}

} // namespace halcyon::exfat::tool
