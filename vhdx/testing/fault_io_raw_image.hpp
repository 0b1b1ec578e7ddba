// Host-only, for fuzzers: a file image in one calloc'ed buffer of fixed capacity, and a BlockIo
// over it. Fuzz targets are compiled with coverage instrumentation, which turns std::vector's
// element-wise constructors into per-byte callbacks; megabyte images made that the whole cost
// of an execution. Here every bulk operation is one memcpy/memset, and untouched capacity stays
// lazily zeroed pages. Growing past the capacity fails like a full disk (a hostile log may ask
// for a petabyte file; the library must handle the I/O error).
#pragma once

#include "vhdx/block_io.hpp"

#include <cstdlib>
#include <cstring>

namespace halcyon::vhdx::testing {

class RawImage {
public:
    explicit RawImage(size_t capacity)
        : data_(static_cast<uint8_t*>(std::calloc(capacity, 1))), capacity_(capacity) {
        if (data_ == nullptr)
            std::abort();
    }
    RawImage(const RawImage& other) : RawImage(other.capacity_) { assign(other); }
    RawImage& operator=(const RawImage&) = delete;
    // Becomes a copy of other (same capacity assumed). Fuzzers keep their images in statics
    // and reassign them: a fresh 64 MiB calloc per execution cost more than the execution.
    void assign(const RawImage& other) {
        resize(0);
        std::memcpy(data_, other.data_, other.size_);
        size_ = other.size_;
    }
    void assign(const uint8_t* bytes, size_t size) {
        resize(0);
        std::memcpy(data_, bytes, size);
        size_ = size;
    }
    ~RawImage() { std::free(data_); }

    [[nodiscard]] uint8_t* data() { return data_; }
    [[nodiscard]] size_t size() const { return size_; }
    [[nodiscard]] size_t capacity() const { return capacity_; }
    // Bytes past the old size read as zero (they are zeroed on shrink, so this holds).
    bool resize(size_t size) {
        if (size > capacity_)
            return false;
        if (size < size_)
            std::memset(data_ + size, 0, size_ - size);
        size_ = size;
        return true;
    }

private:
    uint8_t* data_;
    size_t capacity_;
    size_t size_ = 0;
};

class RawImageBlockIo : public BlockIo {
public:
    explicit RawImageBlockIo(RawImage& image, bool read_only = false)
        : image_(image), read_only_(read_only) {}
    ErrorOr<void> read(uint64_t offset, std::span<uint8_t> buffer) override {
        if (offset > image_.size() || buffer.size() > image_.size() - offset)
            return Error(ErrorCode::io, "raw image io: read past the end of the file");
        std::memcpy(buffer.data(), image_.data() + offset, buffer.size());
        return {};
    }
    ErrorOr<void> write(uint64_t offset, std::span<const uint8_t> data) override {
        if (read_only_)
            return Error(ErrorCode::io, "raw image io: read-only");
        if (offset > image_.capacity() || data.size() > image_.capacity() - offset)
            return Error(ErrorCode::io, "raw image io: no space left");
        if (offset + data.size() > image_.size())
            image_.resize(offset + data.size());
        std::memcpy(image_.data() + offset, data.data(), data.size());
        return {};
    }
    ErrorOr<void> flush() override { return {}; }
    ErrorOr<uint64_t> size() override { return image_.size(); }
    ErrorOr<void> set_size(uint64_t size) override {
        if (read_only_)
            return Error(ErrorCode::io, "raw image io: read-only");
        if (!image_.resize(size))
            return Error(ErrorCode::io, "raw image io: no space left");
        return {};
    }
    bool read_only() const override { return read_only_; }

private:
    RawImage& image_;
    bool read_only_;
};

} // namespace halcyon::vhdx::testing
