// Memory for the library's buffers (allocation bitmap, up-case table, sector cache, open-file
// table). The library never calls operator new or malloc: the caller injects an Allocator. It is
// the VHDX library's interface, so one heap adapter serves both libraries.
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/allocator.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <utility>

namespace halcyon::exfat {

using Allocator = vhdx::Allocator;

// An owned, zero-filled, 4 KiB-aligned byte buffer from the injected Allocator.
class Buffer {
public:
    Buffer() = default;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    Buffer(Buffer&& other) { *this = std::move(other); }
    Buffer& operator=(Buffer&& other) {
        if (this != &other) {
            release();
            allocator_ = std::exchange(other.allocator_, nullptr);
            data_ = std::exchange(other.data_, nullptr);
            size_ = std::exchange(other.size_, 0);
        }
        return *this;
    }
    ~Buffer() { release(); }

    [[nodiscard]] static ErrorOr<Buffer> allocate(Allocator& allocator, size_t size) {
        Buffer buffer;
        if (size == 0)
            return buffer;
        void* memory = allocator.allocate(size, 4096);
        if (memory == nullptr)
            return Error(ErrorCode::out_of_memory, "exfat: out of memory");
        memset(memory, 0, size);
        buffer.allocator_ = &allocator;
        buffer.data_ = static_cast<uint8_t*>(memory);
        buffer.size_ = size;
        return buffer;
    }

    [[nodiscard]] uint8_t* data() { return data_; }
    [[nodiscard]] const uint8_t* data() const { return data_; }
    [[nodiscard]] size_t size() const { return size_; }
    [[nodiscard]] std::span<uint8_t> span() { return {data_, size_}; }
    [[nodiscard]] std::span<const uint8_t> span() const { return {data_, size_}; }
    template <typename T>
    [[nodiscard]] T* as(size_t offset = 0) {
        return reinterpret_cast<T*>(data_ + offset);
    }
    template <typename T>
    [[nodiscard]] const T* as(size_t offset = 0) const {
        return reinterpret_cast<const T*>(data_ + offset);
    }

    void release() {
        if (data_ != nullptr)
            allocator_->deallocate(data_, size_, 4096);
        allocator_ = nullptr;
        data_ = nullptr;
        size_ = 0;
    }

private:
    Allocator* allocator_ = nullptr;
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

} // namespace halcyon::exfat
