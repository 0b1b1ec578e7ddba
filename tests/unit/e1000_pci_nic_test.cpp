// The PCI side of the e1000 driver (BAR0 checks, mapping, MSI off, bus mastering) and the choice
// of the management NIC among PCI functions (halcyon.cfg's `nic = auto | bb:dd.f`).
#include "drivers/net/e1000.hpp"
#include "drivers/net/nic.hpp"
#include "drivers/pci/msi.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <memory>

using namespace halcyon;
using namespace halcyon::drivers;

namespace {

constexpr pci::Address kAt{0, 3, 0};

// One function's configuration space; BAR0 answers sizing with its size mask.
class OneFunctionConfig final : public pci::ConfigSpace {
public:
    std::array<uint8_t, 256> bytes{};
    uint64_t bar0_size = 128 * 1024;
    bool bar0_io = false;

    OneFunctionConfig(uint16_t vendor, uint16_t device, uint32_t bar0) {
        put32(pci::kVendorId, uint32_t(device) << 16 | vendor);
        put32(pci::kBar0, bar0);
    }
    void put32(uint16_t offset, uint32_t value) { std::memcpy(&bytes[offset], &value, 4); }
    uint32_t get32(uint16_t offset) const {
        uint32_t value;
        std::memcpy(&value, &bytes[offset], 4);
        return value;
    }
    uint32_t read32(pci::Address a, uint16_t offset) override {
        return a == kAt ? get32(offset) : 0xFFFF'FFFFu;
    }
    void write32(pci::Address a, uint16_t offset, uint32_t value) override {
        if (!(a == kAt))
            return;
        if (offset == pci::kBar0) {
            const uint32_t type = bar0_io ? 1u : 0u;
            const uint32_t mask = bar0_size == 0 ? 0 : ~uint32_t(bar0_size - 1);
            put32(offset, bar0_size == 0 ? 0 : (value & mask & ~0xFu) | type);
            return;
        }
        if (offset == pci::kCommand) {
            // Status (upper half) is write-one-to-clear: the zeros written leave it alone.
            put32(offset, (get32(offset) & 0xFFFF'0000u) | (value & 0xFFFF));
            return;
        }
        put32(offset, value);
    }
};

// Maps BAR0 to plain memory: a "device" whose registers never react (CTRL.RST stays set).
class PlainMemoryMapper final : public MmioMapper, public DmaAllocator, public Delay {
public:
    std::unique_ptr<uint8_t[]> window = std::make_unique<uint8_t[]>(128 * 1024);
    uint64_t mapped_physical = 0;
    uint64_t mapped_size = 0;
    bool fail = false;
    uint64_t waited_us = 0;

    ErrorOr<volatile uint8_t*> map_mmio(uint64_t physical, uint64_t size) override {
        if (fail)
            return Error(ErrorCode::out_of_range, "fake mapper refuses");
        mapped_physical = physical;
        mapped_size = size;
        std::memset(window.get(), 0, 128 * 1024);
        return static_cast<volatile uint8_t*>(window.get());
    }
    ErrorOr<DmaRegion> allocate_dma(size_t) override {
        return Error(ErrorCode::out_of_memory, "not reached in these tests");
    }
    void delay_us(uint32_t us) override { waited_us += us; }
};

ErrorCode start_error(OneFunctionConfig& config, PlainMemoryMapper& host) {
    const std::optional<pci::Function> function = pci::probe(config, kAt);
    EXPECT_TRUE(function.has_value());
    E1000 driver;
    auto result = driver.start_pci(config, *function, host, host, host);
    EXPECT_TRUE(result.is_error());
    return result.is_error() ? result.error().code() : ErrorCode::invalid_argument;
}

TEST(E1000Pci, MissingUnassignedIoOrSmallBar0AreErrors) {
    PlainMemoryMapper host;
    OneFunctionConfig missing(0x8086, 0x100E, 0);
    missing.bar0_size = 0;
    EXPECT_EQ(start_error(missing, host), ErrorCode::not_found);

    OneFunctionConfig unassigned(0x8086, 0x100E, 0);
    EXPECT_EQ(start_error(unassigned, host), ErrorCode::not_found);

    OneFunctionConfig io(0x8086, 0x10D3, 0xC001);
    io.bar0_io = true;
    io.bar0_size = 32;
    EXPECT_EQ(start_error(io, host), ErrorCode::not_supported);

    OneFunctionConfig small(0x8086, 0x100E, 0xFEB0'0000u);
    small.bar0_size = 64 * 1024;
    EXPECT_EQ(start_error(small, host), ErrorCode::out_of_range);

    OneFunctionConfig virtio(0x1AF4, 0x1041, 0xFEB0'0000u);
    EXPECT_EQ(start_error(virtio, host), ErrorCode::not_supported);
    EXPECT_EQ(host.mapped_size, 0u) << "nothing mapped for any of them";
}

TEST(E1000Pci, DeviceThatNeverLeavesResetTimesOutAfterMappingAndEnabling) {
    PlainMemoryMapper host;
    OneFunctionConfig config(0x8086, 0x10D3, 0xFEB8'0000u);
    // An MSI capability left enabled by firmware must be turned off: the driver polls.
    config.put32(pci::kCommand, uint32_t(pci::kStatusCapabilitiesList) << 16);
    config.bytes[pci::kCapabilitiesPointer] = 0xD0;
    config.bytes[0xD0] = pci::kCapabilityMsi;
    config.bytes[0xD2] = pci::kMsiControlEnable;

    EXPECT_EQ(start_error(config, host), ErrorCode::timeout);
    EXPECT_EQ(host.mapped_physical, 0xFEB8'0000u);
    EXPECT_EQ(host.mapped_size, 128u * 1024);
    EXPECT_LT(host.waited_us, 1'000'000u) << "bounded wait";
    const uint32_t command = config.get32(pci::kCommand) & 0xFFFF;
    EXPECT_NE(command & pci::kCommandMemorySpace, 0u);
    EXPECT_NE(command & pci::kCommandBusMaster, 0u);
    EXPECT_NE(command & pci::kCommandInterruptDisable, 0u);
    EXPECT_EQ(config.bytes[0xD2] & pci::kMsiControlEnable, 0);
}

TEST(E1000Pci, MapperFailureIsReported) {
    PlainMemoryMapper host;
    host.fail = true;
    OneFunctionConfig config(0x8086, 0x100E, 0xFEB0'0000u);
    EXPECT_EQ(start_error(config, host), ErrorCode::out_of_range);
}

pci::Function function_at(uint8_t bus, uint8_t device, uint16_t vendor, uint16_t device_id,
                          uint16_t subsystem = 0) {
    pci::Function f;
    f.address = {bus, device, 0};
    f.vendor_id = vendor;
    f.device_id = device_id;
    f.subsystem_id = subsystem;
    return f;
}

TEST(NicSelection, AutoPrefersVirtioThenE1000eThenE1000) {
    const pci::Function host_bridge = function_at(0, 0, 0x8086, 0x29C0);
    const pci::Function e1000 = function_at(0, 2, 0x8086, 0x100E);
    const pci::Function e1000e = function_at(0, 3, 0x8086, 0x10D3);
    const pci::Function virtio = function_at(0, 4, 0x1AF4, 0x1000, 1);
    const pci::Function virtio_blk = function_at(0, 5, 0x1AF4, 0x1001, 2);

    std::array all = {host_bridge, e1000, e1000e, virtio, virtio_blk};
    EXPECT_EQ(choose_management_nic(all, "auto").value(), 3u);
    EXPECT_EQ(choose_management_nic(all, "").value(), 3u);
    std::array intel = {host_bridge, e1000, e1000e, virtio_blk};
    EXPECT_EQ(choose_management_nic(intel, "auto").value(), 2u);
    std::array old = {host_bridge, virtio_blk, e1000};
    EXPECT_EQ(choose_management_nic(old, "auto").value(), 2u);
    std::array nothing = {host_bridge, virtio_blk};
    EXPECT_EQ(choose_management_nic(nothing, "auto").error().code(), ErrorCode::not_found);

    EXPECT_EQ(nic_kind(virtio), NicKind::virtio_net);
    EXPECT_EQ(nic_kind(e1000e), NicKind::e1000e);
    EXPECT_EQ(nic_kind(e1000), NicKind::e1000);
    EXPECT_EQ(nic_kind(virtio_blk), NicKind::none);
    EXPECT_STREQ(nic_kind_name(NicKind::e1000e), "e1000e");
}

TEST(NicSelection, ConfiguredAddressPicksThatFunctionIfItIsANic) {
    const pci::Function virtio = function_at(0, 2, 0x1AF4, 0x1041);
    const pci::Function e1000 = function_at(0x1A, 0x1F, 0x8086, 0x100E);
    const pci::Function disk = function_at(0, 5, 0x1AF4, 0x1042);
    std::array all = {virtio, e1000, disk};
    EXPECT_EQ(choose_management_nic(all, "1a:1f.0").value(), 1u);
    EXPECT_EQ(choose_management_nic(all, "1A:1F.0").value(), 1u) << "either case of hex";
    EXPECT_EQ(choose_management_nic(all, "00:02.0").value(), 0u);
    EXPECT_EQ(choose_management_nic(all, "00:05.0").error().code(), ErrorCode::not_supported);
    EXPECT_EQ(choose_management_nic(all, "00:06.0").error().code(), ErrorCode::not_found);
    EXPECT_EQ(choose_management_nic(all, "00:02.0x").error().code(), ErrorCode::not_found);
    EXPECT_EQ(choose_management_nic(all, "00:02").error().code(), ErrorCode::not_found);
}

TEST(NicSelection, FormatsPciAddressesLikeTheConfig) {
    char name[8];
    format_pci_address({0xAB, 0x1F, 7}, name);
    EXPECT_STREQ(name, "ab:1f.7");
    format_pci_address({0, 3, 0}, name);
    EXPECT_STREQ(name, "00:03.0");
}

} // namespace
