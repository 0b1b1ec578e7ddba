// Host-only helpers for tests, fuzzers and tools (NOT part of the freestanding library): an
// in-memory BlockIo that can cut power after N writes/flushes, a malloc Allocator that counts
// live bytes, and a seeded RandomSource.
#pragma once

#include "vhdx/allocator.hpp"
#include "vhdx/block_io.hpp"
#include "vhdx/random_source.hpp"

#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

namespace halcyon::vhdx::testing {

// Keeps two images: `durable` (what survives a power cut) and `volatile_` (what reads see).
// flush() copies volatile to durable. With a write budget, the write that exhausts it is torn
// (only a prefix of whole 512-byte sectors lands) and every later call fails, as after a
// power cut; crash_image() then returns what a reboot would find.
class MemoryBlockIo : public BlockIo {
public:
    MemoryBlockIo() = default;
    explicit MemoryBlockIo(std::vector<uint8_t> image)
        : durable_(image), volatile_(std::move(image)) {}

    ErrorOr<void> read(uint64_t offset, std::span<uint8_t> buffer) override {
        if (dead_)
            return Error(ErrorCode::io, "memory io: power cut");
        if (offset > volatile_.size() || buffer.size() > volatile_.size() - offset)
            return Error(ErrorCode::io, "memory io: read past end");
        std::memcpy(buffer.data(), volatile_.data() + offset, buffer.size());
        return {};
    }
    ErrorOr<void> write(uint64_t offset, std::span<const uint8_t> data) override {
        if (dead_ || read_only_)
            return Error(ErrorCode::io, dead_ ? "memory io: power cut" : "memory io: read-only");
        size_t length = data.size();
        if (operations_left_ >= 0 && operations_left_-- == 0) {
            dead_ = true;
            length = torn_sectors_ * 512 < length ? torn_sectors_ * 512 : length;
        }
        if (offset + length > volatile_.size())
            volatile_.resize(offset + length, 0);
        std::memcpy(volatile_.data() + offset, data.data(), length);
        writes_++;
        if (dead_) {
            // A torn write reaches the medium partially; nothing after it does.
            durable_.resize(volatile_.size() > durable_.size() ? volatile_.size() : durable_.size(),
                            0);
            std::memcpy(durable_.data() + offset, data.data(), length);
            return Error(ErrorCode::io, "memory io: power cut");
        }
        return {};
    }
    ErrorOr<void> flush() override {
        if (dead_)
            return Error(ErrorCode::io, "memory io: power cut");
        if (operations_left_ >= 0 && operations_left_-- == 0) {
            dead_ = true;
            return Error(ErrorCode::io, "memory io: power cut");
        }
        durable_ = volatile_;
        flushes_++;
        return {};
    }
    ErrorOr<uint64_t> size() override {
        if (dead_)
            return Error(ErrorCode::io, "memory io: power cut");
        return volatile_.size();
    }
    ErrorOr<void> set_size(uint64_t size) override {
        if (dead_ || read_only_)
            return Error(ErrorCode::io, "memory io: cannot resize");
        volatile_.resize(size, 0);
        return {};
    }
    bool read_only() const override { return read_only_; }

    void set_read_only(bool value) { read_only_ = value; }
    // Cut power at the n-th write or flush from now (0 = the next one); the cut write keeps
    // `torn_sectors` sectors. -1 disables.
    void cut_power_after(int64_t operations, size_t torn_sectors = 0) {
        operations_left_ = operations;
        torn_sectors_ = torn_sectors;
    }
    [[nodiscard]] bool dead() const { return dead_; }
    // What the medium holds after the cut (unflushed writes lost).
    [[nodiscard]] std::vector<uint8_t> crash_image() const { return durable_; }
    [[nodiscard]] std::vector<uint8_t>& image() { return volatile_; }
    [[nodiscard]] uint64_t writes() const { return writes_; }
    [[nodiscard]] uint64_t flushes() const { return flushes_; }

private:
    std::vector<uint8_t> durable_;
    std::vector<uint8_t> volatile_;
    bool read_only_ = false;
    bool dead_ = false;
    int64_t operations_left_ = -1;
    size_t torn_sectors_ = 0;
    uint64_t writes_ = 0;
    uint64_t flushes_ = 0;
};

class HeapAllocator : public Allocator {
public:
    void* allocate(size_t size, size_t align) override {
        if (fail_after_ == 0)
            return nullptr;
        if (fail_after_ > 0)
            fail_after_--;
        void* p = std::aligned_alloc(align, (size + align - 1) / align * align);
        if (p != nullptr)
            live_ += size;
        return p;
    }
    void deallocate(void* pointer, size_t size, size_t) override {
        live_ -= size;
        std::free(pointer);
    }
    [[nodiscard]] size_t live_bytes() const { return live_; }
    // Fail the n-th allocation from now (-1: never).
    void fail_after(int64_t n) { fail_after_ = n; }

private:
    size_t live_ = 0;
    int64_t fail_after_ = -1;
};

class SeededRandom : public RandomSource {
public:
    explicit SeededRandom(uint64_t seed = 1) : engine_(seed) {}
    void fill(std::span<uint8_t> bytes) override {
        for (uint8_t& b : bytes)
            b = static_cast<uint8_t>(engine_());
    }

private:
    std::mt19937_64 engine_;
};

} // namespace halcyon::vhdx::testing
