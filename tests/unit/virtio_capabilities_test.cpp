// Finding the virtio 1.x structures (common, notify, ISR, device) in a function's vendor
// capabilities (virtio 1.1, 4.1.4), over a fake configuration space.
#include "drivers/net/virtio_net.hpp"
#include "drivers/virtio/virtio_pci.hpp"

#include <gtest/gtest.h>

#include <cstring>

using namespace halcyon;
using namespace halcyon::drivers;

namespace {

class FlatConfig final : public pci::ConfigSpace {
public:
    uint8_t bytes[256] = {};
    uint32_t read32(pci::Address, uint16_t offset) override {
        uint32_t value;
        std::memcpy(&value, bytes + offset, 4);
        return value;
    }
    void write32(pci::Address, uint16_t offset, uint32_t value) override {
        std::memcpy(bytes + offset, &value, 4);
    }
    // A virtio_pci_cap at `at` linking to `next`.
    void cap(uint8_t at, uint8_t next, uint8_t type, uint8_t bar, uint32_t offset, uint32_t length,
             uint8_t cap_length = 16) {
        bytes[at] = pci::kCapabilityVendor;
        bytes[at + 1] = next;
        bytes[at + 2] = cap_length;
        bytes[at + 3] = type;
        bytes[at + 4] = bar;
        std::memcpy(bytes + at + 8, &offset, 4);
        std::memcpy(bytes + at + 12, &length, 4);
    }
};

FlatConfig modern_device() {
    FlatConfig config;
    config.bytes[pci::kStatus] = 0x10;
    config.bytes[pci::kCapabilitiesPointer] = 0x40;
    config.bytes[0x40] = pci::kCapabilityMsix; // an unrelated capability first
    config.bytes[0x41] = 0x50;
    config.cap(0x50, 0x60, 1, 4, 0x0000, 0x1000);     // common
    config.cap(0x60, 0x70, 3, 4, 0x1000, 0x1000);     // ISR
    config.cap(0x70, 0x84, 4, 4, 0x2000, 0x1000);     // device
    config.cap(0x84, 0x98, 2, 4, 0x3000, 0x1000, 20); // notify + multiplier
    const uint32_t multiplier = 4;
    std::memcpy(config.bytes + 0x84 + 16, &multiplier, 4);
    config.cap(0x98, 0x00, 1, 2, 0x8000, 0x100); // a second common: ignored
    return config;
}

TEST(VirtioCapabilities, FindsEveryStructureAndPrefersTheFirst) {
    FlatConfig config = modern_device();
    auto caps = virtio::find_capabilities(config, {0, 2, 0});
    ASSERT_FALSE(caps.is_error()) << caps.error().message();
    EXPECT_TRUE(caps.value().common.present);
    EXPECT_EQ(caps.value().common.bar, 4);
    EXPECT_EQ(caps.value().common.offset, 0u) << "the first common structure wins";
    EXPECT_EQ(caps.value().isr.offset, 0x1000u);
    EXPECT_EQ(caps.value().device.offset, 0x2000u);
    EXPECT_EQ(caps.value().notify.offset, 0x3000u);
    EXPECT_EQ(caps.value().notify_offset_multiplier, 4u);
}

TEST(VirtioCapabilities, RefusesADeviceWithoutTheModernInterface) {
    FlatConfig config = modern_device();
    config.bytes[0x41] = 0x60;  // skip the common structure
    config.bytes[0x98 + 3] = 5; // and make the second one a PCI-access structure
    auto caps = virtio::find_capabilities(config, {0, 2, 0});
    ASSERT_TRUE(caps.is_error());
    EXPECT_EQ(caps.error().code(), ErrorCode::not_supported);
}

TEST(VirtioCapabilities, IgnoresReservedBarNumbers) {
    FlatConfig config = modern_device();
    config.bytes[0x50 + 4] = 7; // first common structure in a reserved BAR: skipped
    auto caps = virtio::find_capabilities(config, {0, 2, 0});
    ASSERT_FALSE(caps.is_error());
    EXPECT_EQ(caps.value().common.bar, 2);
    EXPECT_EQ(caps.value().common.offset, 0x8000u);
}

TEST(VirtioNetIdentity, ModernAndTransitionalNetworkDevicesOnly) {
    pci::Function f;
    f.vendor_id = 0x1AF4;
    f.device_id = 0x1041;
    EXPECT_TRUE(is_virtio_net(f));
    f.device_id = 0x1000;
    f.subsystem_id = 1;
    EXPECT_TRUE(is_virtio_net(f)) << "transitional network device";
    f.subsystem_id = 2;
    EXPECT_FALSE(is_virtio_net(f)) << "transitional block device";
    f.device_id = 0x1042;
    EXPECT_FALSE(is_virtio_net(f));
    f.vendor_id = 0x8086;
    f.device_id = 0x1041;
    EXPECT_FALSE(is_virtio_net(f));
}

} // namespace
