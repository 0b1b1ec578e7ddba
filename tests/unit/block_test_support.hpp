// Shared pieces of the block driver tests: DMA memory at fake device addresses (above 4 GiB,
// so 64-bit address handling is exercised) that the fake devices reach only by device address,
// a clock whose delays also let a fake device make progress, and a disk image with a volatile
// write cache model (what was written vs. what survives a power cut).
#pragma once

#include "drivers/block/block_device.hpp"
#include "drivers/net/device_memory.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace halcyon::test {

using namespace halcyon::drivers;
using namespace halcyon::drivers::block;

class FakeDmaMemory final : public DmaAllocator {
public:
    explicit FakeDmaMemory(uint64_t base = 0x1'0000'0000ull) : next_(base) {}

    ErrorOr<DmaRegion> allocate_dma(size_t size) override {
        if (fail_after >= 0 && allocations >= fail_after)
            return Error(ErrorCode::out_of_memory, "fake DMA memory exhausted");
        ++allocations;
        const size_t bytes = (size + 4095) & ~size_t(4095);
        Chunk chunk;
        chunk.storage = std::make_unique<uint8_t[]>(bytes + 4096);
        chunk.virt = reinterpret_cast<uint8_t*>(
            (reinterpret_cast<uintptr_t>(chunk.storage.get()) + 4095) & ~uintptr_t(4095));
        std::memset(chunk.virt, 0, bytes);
        chunk.device_address = next_;
        chunk.size = bytes;
        next_ += bytes + 0x10000; // gaps, so running off a region is caught
        chunks_.push_back(std::move(chunk));
        const Chunk& c = chunks_.back();
        return DmaRegion{c.virt, c.device_address, c.size};
    }

    // The device's view: nullptr (and a test failure) unless [address, address + length) lies
    // inside one allocated region.
    uint8_t* at(uint64_t address, size_t length) {
        for (Chunk& c : chunks_) {
            if (address >= c.device_address && address + length <= c.device_address + c.size)
                return c.virt + (address - c.device_address);
        }
        ADD_FAILURE() << "device access outside DMA memory: 0x" << std::hex << address << "+"
                      << std::dec << length;
        return nullptr;
    }

    int fail_after = -1;
    int allocations = 0;

private:
    struct Chunk {
        std::unique_ptr<uint8_t[]> storage;
        uint8_t* virt = nullptr;
        uint64_t device_address = 0;
        size_t size = 0;
    };
    std::vector<Chunk> chunks_;
    uint64_t next_;
};

// Time moves only through delay_us(); `on_tick` lets the fake device act at the new time.
class FakeClock final : public Delay {
public:
    void delay_us(uint32_t microseconds) override {
        now_us += microseconds;
        if (on_tick)
            on_tick(now_us);
    }
    uint64_t now_us = 0;
    std::function<void(uint64_t)> on_tick;
};

// Disk contents with a write cache: writes land in `cache` until flushed into `durable`;
// `contents()` is what reads return.
class DiskImage {
public:
    DiskImage(uint32_t sector_size, uint64_t sectors)
        : sector_size_(sector_size), durable_(size_t(sector_size) * sectors, 0) {}

    uint32_t sector_size() const { return sector_size_; }
    uint64_t sectors() const { return durable_.size() / sector_size_; }

    void read(uint64_t sector, uint8_t* out, uint64_t count) const {
        for (uint64_t i = 0; i < count; ++i) {
            auto cached = cache_.find(sector + i);
            const uint8_t* source = cached != cache_.end()
                                        ? cached->second.data()
                                        : durable_.data() + (sector + i) * sector_size_;
            std::memcpy(out + i * sector_size_, source, sector_size_);
        }
    }
    // `write_through` (or FUA) writes straight to durable storage.
    void write(uint64_t sector, const uint8_t* data, uint64_t count, bool write_through) {
        for (uint64_t i = 0; i < count; ++i) {
            const uint8_t* source = data + i * sector_size_;
            if (write_through) {
                cache_.erase(sector + i);
                std::memcpy(durable_.data() + (sector + i) * sector_size_, source, sector_size_);
            } else {
                cache_[sector + i].assign(source, source + sector_size_);
            }
        }
    }
    void flush() {
        for (auto& [sector, data] : cache_)
            std::memcpy(durable_.data() + sector * sector_size_, data.data(), sector_size_);
        cache_.clear();
        ++flushes;
    }
    // What a power cut would leave.
    const std::vector<uint8_t>& durable() const { return durable_; }
    size_t cached_sectors() const { return cache_.size(); }
    std::vector<uint8_t> contents() const {
        std::vector<uint8_t> all(durable_.size());
        read(0, all.data(), sectors());
        return all;
    }

    int flushes = 0;

private:
    uint32_t sector_size_;
    std::vector<uint8_t> durable_;
    std::map<uint64_t, std::vector<uint8_t>> cache_;
};

// Bytes that differ from sector to sector and run to run of `seed`.
inline std::vector<uint8_t> pattern_bytes(size_t length, uint32_t seed) {
    std::vector<uint8_t> bytes(length);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < length; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes[i] = static_cast<uint8_t>(x);
    }
    return bytes;
}

} // namespace halcyon::test
