// Shared helpers of the exFAT unit tests: a formatted in-memory volume and whole-file I/O.
#pragma once

#include "mgmt/datastore/exfat/format.hpp"
#include "mgmt/datastore/exfat/testing/memory_sector_device.hpp"
#include "mgmt/datastore/exfat/volume.hpp"
#include "vhdx/testing/memory_block_io.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace halcyon::exfat::testing {

#define EXFAT_ASSERT_OK(expression)                                                                \
    do {                                                                                           \
        auto&& _result = (expression);                                                             \
        ASSERT_FALSE(_result.is_error()) << #expression << ": " << _result.error().message();      \
    } while (0)

template <typename T>
T must(ErrorOr<T>&& result) {
    if (result.is_error()) {
        ADD_FAILURE() << "unexpected error: " << result.error().message();
        std::abort();
    }
    return result.release_value();
}

inline void must_ok(ErrorOr<void>&& result) {
    if (result.is_error()) {
        ADD_FAILURE() << "unexpected error: " << result.error().message();
        std::abort();
    }
}

inline std::vector<uint8_t> pattern(uint64_t seed, size_t size) {
    std::vector<uint8_t> data(size);
    std::mt19937_64 engine(seed);
    for (auto& byte : data)
        byte = static_cast<uint8_t>(engine());
    return data;
}

// A device with a fresh volume on it.
struct Fixture {
    explicit Fixture(uint64_t bytes = 16 << 20, uint32_t sector_size = 512,
                     FormatOptions options = {})
        : device(sector_size, bytes / sector_size) {
        must(format(device, allocator, clock, options));
    }
    std::unique_ptr<Volume> mount(MountOptions options = {}) {
        auto volume = std::make_unique<Volume>(device, allocator, clock);
        must_ok(volume->mount(options));
        return volume;
    }

    MemorySectorDevice device;
    vhdx::testing::HeapAllocator allocator;
    FixedClock clock;
};

inline void write_file(Volume& volume, const std::string& path, const std::vector<uint8_t>& data,
                       size_t chunk = 0) {
    File file = must(volume.open(path, OpenMode::read_write, Disposition::create_or_truncate));
    if (chunk == 0)
        chunk = data.size() ? data.size() : 1;
    for (size_t at = 0; at < data.size(); at += chunk)
        must_ok(file.write(at, {data.data() + at, std::min(chunk, data.size() - at)}));
    must_ok(file.close());
}

inline std::vector<uint8_t> read_file(Volume& volume, const std::string& path) {
    File file = must(volume.open(path, OpenMode::read));
    std::vector<uint8_t> data(file.size());
    size_t n = must(file.read(0, data));
    EXPECT_EQ(n, data.size());
    must_ok(file.close());
    return data;
}

inline std::set<std::string> list(Volume& volume, const std::string& path) {
    std::set<std::string> names;
    DirectoryReader reader = must(volume.open_directory(path));
    EntryInfo info;
    while (must(reader.next(info)))
        names.insert(std::string(info.name, info.name_length));
    return names;
}

} // namespace halcyon::exfat::testing
