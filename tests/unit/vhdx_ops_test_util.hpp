// Helpers shared by the vhdx_ops_* unit tests: unwrap ErrorOr, make disks in memory, pattern
// data.
#pragma once

#include "vhdx/disk.hpp"
#include "vhdx/testing/memory_block_io.hpp"
#include "vhdx/testing/memory_resolver.hpp"

#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <random>
#include <vector>

namespace vhdx_ops_test {

using namespace halcyon;
using namespace halcyon::vhdx;
using namespace halcyon::vhdx::testing;

template <typename T>
T must(ErrorOr<T>&& result) {
    EXPECT_FALSE(result.is_error()) << (result.is_error() ? result.error().message() : "");
    if (result.is_error())
        abort();
    return result.release_value();
}
inline void must(ErrorOr<void>&& result) {
    EXPECT_FALSE(result.is_error()) << (result.is_error() ? result.error().message() : "");
    if (result.is_error())
        abort();
}

inline std::vector<uint8_t> random_bytes(uint64_t seed, size_t length) {
    std::mt19937_64 engine(seed);
    std::vector<uint8_t> bytes(length);
    for (auto& b : bytes)
        b = static_cast<uint8_t>(engine());
    return bytes;
}

struct Env {
    HeapAllocator allocator;
    SeededRandom random{11};
    MemoryResolver resolver;

    Disk* create(MemoryBlockIo& io, DiskType type, uint64_t size, uint32_t block = kMiB,
                 uint32_t logical = 512, const char* parent = nullptr) {
        CreateOptions options;
        options.type = type;
        options.virtual_size = size;
        options.block_size = block;
        options.logical_sector_size = logical;
        options.random = &random;
        options.parent_resolver = &resolver;
        if (parent != nullptr)
            options.parent_relative_path = parent;
        return must(Disk::create(io, allocator, options));
    }
    Disk* open(MemoryBlockIo& io, bool read_only = false, bool ignore_linkage = false) {
        OpenOptions options;
        options.read_only = read_only;
        options.random = &random;
        options.parent_resolver = &resolver;
        options.ignore_parent_linkage = ignore_linkage;
        return must(Disk::open(io, allocator, options));
    }
};

// Writes `data` at offset into both the disk and the model.
inline void write_both(Disk* disk, std::vector<uint8_t>& model, uint64_t offset,
                       const std::vector<uint8_t>& data) {
    must(disk->write(offset, data));
    std::memcpy(model.data() + offset, data.data(), data.size());
}

inline std::vector<uint8_t> read_all(Disk* disk) {
    std::vector<uint8_t> bytes(disk->info().virtual_size);
    must(disk->read(0, bytes));
    return bytes;
}

} // namespace vhdx_ops_test
