// The virtio 1.x "modern" PCI transport (virtio 1.1, 4.1): the vendor capabilities that locate
// the common, notify, ISR and device configuration structures in the BARs, and the common
// configuration operations (reset, status, feature negotiation, queue setup, notification).
// No legacy (0.9.5) interface: a transitional device is driven through its modern one.
#pragma once

#include "drivers/net/device_memory.hpp"
#include "drivers/pci/pci.hpp"
#include "drivers/virtio/virtqueue.hpp"
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

// What a device driver needs of its transport (3.1, 4.1.4.3), as an interface so drivers run
// against a fake device in host tests; Transport below is the PCI implementation.
class DeviceTransport {
public:
    [[nodiscard]] virtual uint8_t status() const = 0;
    // Writes the device status; 0 starts a reset, complete once status() reads 0 again.
    virtual void write_status(uint8_t status) = 0;
    void add_status(uint8_t bits) { write_status(static_cast<uint8_t>(status() | bits)); }

    [[nodiscard]] virtual uint64_t device_features() const = 0;
    // Writes the driver features, sets FEATURES_OK and checks that the device kept it.
    [[nodiscard]] virtual ErrorOr<void> negotiate(uint64_t driver_features) = 0;

    [[nodiscard]] virtual uint16_t max_queue_size(uint16_t queue) const = 0;
    // Tells the device about the rings of `queue`, interrupts off (polled), and enables it.
    [[nodiscard]] virtual ErrorOr<void> enable_queue(uint16_t queue,
                                                     const SplitVirtqueue& ring) = 0;
    virtual void notify(uint16_t queue) = 0;

    // Device-specific configuration, read consistently (config_generation loop by the caller).
    [[nodiscard]] virtual uint8_t config_generation() const = 0;
    [[nodiscard]] virtual uint32_t device_config_length() const = 0;
    [[nodiscard]] virtual uint8_t device_config8(uint32_t offset) const = 0;
    [[nodiscard]] virtual uint16_t device_config16(uint32_t offset) const = 0;
    [[nodiscard]] virtual uint32_t device_config32(uint32_t offset) const = 0;

protected:
    ~DeviceTransport() = default;
};

// The mapped transport of one device.
class Transport final : public DeviceTransport {
public:
    // Sizes the BARs, maps the structures through `mmio` and enables memory decoding and bus
    // mastering.
    [[nodiscard]] static ErrorOr<Transport> open(pci::ConfigSpace& config,
                                                 const pci::Function& function, MmioMapper& mmio);
    Transport() = default;

    // Resets the device and waits (unbounded: virtio-net's path; drivers with a Delay write
    // status 0 and poll status() themselves).
    void reset();

    [[nodiscard]] uint8_t status() const override;
    void write_status(uint8_t status) override;

    [[nodiscard]] uint64_t device_features() const override;
    [[nodiscard]] ErrorOr<void> negotiate(uint64_t driver_features) override;

    [[nodiscard]] uint16_t max_queue_size(uint16_t queue) const override;
    [[nodiscard]] ErrorOr<void> enable_queue(uint16_t queue, const SplitVirtqueue& ring) override;
    void notify(uint16_t queue) override;

    [[nodiscard]] uint8_t config_generation() const override;
    [[nodiscard]] uint8_t device_config8(uint32_t offset) const override;
    [[nodiscard]] uint16_t device_config16(uint32_t offset) const override;
    [[nodiscard]] uint32_t device_config32(uint32_t offset) const override;
    [[nodiscard]] bool has_device_config() const { return device_ != nullptr; }
    [[nodiscard]] uint32_t device_config_length() const override { return device_length_; }

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
