// Shared pieces of the vmm/hyperv unit tests: a guest RAM that records what the Hyper-V code
// writes into it, and a partition description with round numbers.
#pragma once

#include "vmm/hyperv/guest_page_writer.hpp"
#include "vmm/hyperv/hyperv_partition.hpp"

#include <cstring>
#include <span>
#include <stdint.h>
#include <vector>

namespace halcyon::vmm::hyperv::test {

// Guest RAM [0, size): fill_page succeeds inside it and fails (writing nothing) outside.
class FakeGuestRam final : public GuestPageWriter {
public:
    explicit FakeGuestRam(uint64_t size, uint8_t fill = 0xCC) : bytes_(size, fill) {}

    bool fill_page(uint64_t page_address, std::span<const uint8_t> prefix) override {
        ++calls;
        if (page_address % kPageSize != 0 || prefix.size() > kPageSize ||
            page_address >= bytes_.size() || bytes_.size() - page_address < kPageSize)
            return false;
        std::memset(bytes_.data() + page_address, 0, kPageSize);
        if (!prefix.empty()) // an empty prefix may have a null data()
            std::memcpy(bytes_.data() + page_address, prefix.data(), prefix.size());
        return true;
    }

    [[nodiscard]] std::span<const uint8_t> page(uint64_t page_address) const {
        return std::span<const uint8_t>(bytes_).subspan(page_address, kPageSize);
    }
    template <typename T>
    [[nodiscard]] T load(uint64_t address) const {
        T value;
        std::memcpy(&value, bytes_.data() + address, sizeof(T));
        return value;
    }

    int calls = 0;

private:
    std::vector<uint8_t> bytes_;
};

inline constexpr uint64_t kTestTscHz = 2'500'000'000; // 2.5 GHz
inline constexpr uint64_t kTestCreationTsc = 1'000'000'000'000;
inline constexpr uint64_t kTestRamSize = 1 << 20;

inline HypervPartitionInfo test_info(CpuVendor vendor = CpuVendor::amd) {
    HypervPartitionInfo info;
    info.tsc_hz = kTestTscHz;
    info.creation_tsc = kTestCreationTsc;
    info.guest_physical_size = kTestRamSize;
    info.vcpu_count = 4;
    info.vendor = vendor;
    info.host_logical_processors = 16;
    info.physical_address_bits = 48;
    return info;
}

// A Linux-style guest OS ID (open source, Linux, version 6.1).
inline constexpr uint64_t kLinuxGuestOsId = (uint64_t{0x8100} << 48) | (uint64_t{0x060100} << 16);

} // namespace halcyon::vmm::hyperv::test
