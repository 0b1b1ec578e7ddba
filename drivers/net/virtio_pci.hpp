// The virtio 1.x "modern" PCI transport (virtio 1.1, 4.1): the vendor capabilities that locate
// the common, notify, ISR and device configuration structures in the BARs, and the common
// configuration operations (reset, status, feature negotiation, queue setup, notification).
// No legacy (0.9.5) interface: a transitional device is driven through its modern one.
#pragma once

#include "drivers/net/device_memory.hpp"
#include "drivers/net/virtqueue.hpp"
#include "drivers/pci/pci.hpp"
#include "lib/base/error_or.hpp"

#include <stdint.h>

namespace halcyon::drivers::virtio {

inline constexpr uint16_t kPciVendor = 0x1AF4;
// Modern device ids are 0x1040 + device type; transitional ones 0x1000..0x103F.
inline constexpr uint16_t kModernDeviceIdBase = 0x1040;

// Device status bits (2.1).
inline constexpr uint8_t kStatusAcknowledge = 1;
inline constexpr uint8_t kStatusDriver = 2;
inline constexpr uint8_t kStatusDriverOk = 4;
inline constexpr uint8_t kStatusFeaturesOk = 8;
inline constexpr uint8_t kStatusNeedsReset = 64;
inline constexpr uint8_t kStatusFailed = 128;

inline constexpr uint64_t kFeatureVersion1 = 1ULL << 32;
inline constexpr uint16_t kNoVector = 0xFFFF;

// Structure types of the vendor capability (4.1.4).
enum class CapabilityType : uint8_t {
    common = 1,
    notify = 2,
    isr = 3,
    device = 4,
    pci = 5,
};

// Where one configuration structure lives.
struct Region {
    bool present = false;
    uint8_t bar = 0;
    uint32_t offset = 0;
    uint32_t length = 0;
};

struct Capabilities {
    Region common;
    Region notify;
    Region isr;
    Region device;
    uint32_t notify_offset_multiplier = 0;
};

// Finds the structures in `function`'s capability list (the first of each type wins, as the
// spec asks drivers to prefer). Fails with not_supported unless common, notify and ISR exist.
[[nodiscard]] ErrorOr<Capabilities> find_capabilities(pci::ConfigSpace& config,
                                                      pci::Address address);

// The mapped transport of one device.
class Transport {
public:
    // Sizes the BARs, maps the structures through `mmio` and enables memory decoding and bus
    // mastering.
    [[nodiscard]] static ErrorOr<Transport> open(pci::ConfigSpace& config,
                                                 const pci::Function& function, MmioMapper& mmio);
    Transport() = default;

    void reset();
    [[nodiscard]] uint8_t status() const;
    void add_status(uint8_t bits);

    [[nodiscard]] uint64_t device_features() const;
    // Writes the driver features, sets FEATURES_OK and checks that the device kept it.
    [[nodiscard]] ErrorOr<void> negotiate(uint64_t driver_features);

    [[nodiscard]] uint16_t max_queue_size(uint16_t queue) const;
    // Tells the device about the rings of `queue`, interrupts off (polled), and enables it.
    [[nodiscard]] ErrorOr<void> enable_queue(uint16_t queue, const SplitVirtqueue& ring);
    void notify(uint16_t queue);

    // Device-specific configuration, read consistently (config_generation loop by the caller).
    [[nodiscard]] uint8_t config_generation() const;
    [[nodiscard]] uint8_t device_config8(uint32_t offset) const;
    [[nodiscard]] uint16_t device_config16(uint32_t offset) const;
    [[nodiscard]] bool has_device_config() const { return device_ != nullptr; }
    [[nodiscard]] uint32_t device_config_length() const { return device_length_; }

private:
    volatile uint8_t* common_ = nullptr;
    volatile uint8_t* notify_base_ = nullptr;
    volatile uint8_t* isr_ = nullptr;
    volatile uint8_t* device_ = nullptr;
    uint32_t device_length_ = 0;
    uint32_t notify_multiplier_ = 0;
    uint32_t notify_length_ = 0;
    uint16_t notify_offsets_[2] = {};
};

} // namespace halcyon::drivers::virtio
