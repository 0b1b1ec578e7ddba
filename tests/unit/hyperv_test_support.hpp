// Shared pieces of the vmm/hyperv unit tests: a guest RAM that records what the Hyper-V code
// writes into it (and can play the guest racing the SynIC on a word), and a partition
// description with round numbers.
#pragma once

#include "vmm/hyperv/guest_memory.hpp"
#include "vmm/hyperv/hyperv_partition.hpp"

#include <cstring>
#include <functional>
#include <span>
#include <stdint.h>
#include <vector>

namespace halcyon::vmm::hyperv::test {

// Guest RAM [0, size): every access succeeds inside it and fails (doing nothing) outside.
// `before_atomic` runs just before each compare-exchange or fetch-or, so a test can change the
// word the way a guest vCPU would at that moment. `hole` makes one page "not RAM".
class FakeGuestRam final : public GuestMemory {
public:
    explicit FakeGuestRam(uint64_t size, uint8_t fill = 0xCC) : bytes_(size, fill) {}

    bool fill_page(uint64_t page_address, std::span<const uint8_t> prefix) override {
        ++calls;
        if (page_address % kPageSize != 0 || prefix.size() > kPageSize ||
            !inside(page_address, kPageSize))
            return false;
        std::memset(bytes_.data() + page_address, 0, kPageSize);
        if (!prefix.empty()) // an empty prefix may have a null data()
            std::memcpy(bytes_.data() + page_address, prefix.data(), prefix.size());
        return true;
    }

    bool read(uint64_t address, std::span<uint8_t> data) override {
        if (!inside(address, data.size()))
            return false;
        if (!data.empty())
            std::memcpy(data.data(), bytes_.data() + address, data.size());
        return true;
    }
    bool write(uint64_t address, std::span<const uint8_t> data) override {
        if (!inside(address, data.size()))
            return false;
        if (!data.empty())
            std::memcpy(bytes_.data() + address, data.data(), data.size());
        return true;
    }
    bool load_u64(uint64_t address, uint64_t& value) override {
        if (address % 8 != 0 || !inside(address, 8))
            return false;
        value = load<uint64_t>(address);
        return true;
    }
    bool compare_exchange_u64(uint64_t address, uint64_t& expected, uint64_t desired,
                              bool& swapped) override {
        if (address % 8 != 0 || !inside(address, 8))
            return false;
        if (before_atomic)
            before_atomic(address);
        const uint64_t current = load<uint64_t>(address);
        swapped = current == expected;
        if (swapped)
            store<uint64_t>(address, desired);
        else
            expected = current;
        return true;
    }
    bool fetch_or_u64(uint64_t address, uint64_t bits, uint64_t& previous) override {
        if (address % 8 != 0 || !inside(address, 8))
            return false;
        if (before_atomic)
            before_atomic(address);
        previous = load<uint64_t>(address);
        store<uint64_t>(address, previous | bits);
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

    template <typename T>
    void store(uint64_t address, T value) {
        std::memcpy(bytes_.data() + address, &value, sizeof(T));
    }
    void fill(uint64_t address, size_t size, uint8_t value) {
        std::memset(bytes_.data() + address, value, size);
    }

    int calls = 0; // fill_page calls
    std::function<void(uint64_t)> before_atomic;
    uint64_t hole = ~uint64_t{0}; // a page address that is not RAM

private:
    [[nodiscard]] bool inside(uint64_t address, uint64_t size) const {
        if (address >= bytes_.size() || bytes_.size() - address < size)
            return false;
        return hole == ~uint64_t{0} || address + size <= hole || address >= hole + kPageSize;
    }

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
