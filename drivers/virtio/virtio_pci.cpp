#include "drivers/virtio/virtio_pci.hpp"

#include "drivers/net/mmio.hpp"

namespace halcyon::drivers::virtio {
namespace {

// Common configuration structure (4.1.4.3).
constexpr size_t kDeviceFeatureSelect = 0;
constexpr size_t kDeviceFeature = 4;
constexpr size_t kDriverFeatureSelect = 8;
constexpr size_t kDriverFeature = 12;
constexpr size_t kMsixConfig = 16;
constexpr size_t kDeviceStatus = 20;
constexpr size_t kConfigGeneration = 21;
constexpr size_t kQueueSelect = 22;
constexpr size_t kQueueSize = 24;
constexpr size_t kQueueMsixVector = 26;
constexpr size_t kQueueEnable = 28;
constexpr size_t kQueueNotifyOff = 30;
constexpr size_t kQueueDesc = 32;
constexpr size_t kQueueDriver = 40;
constexpr size_t kQueueDevice = 48;
constexpr uint32_t kCommonLength = 56;

// virtio_pci_cap fields, relative to the capability.
constexpr uint16_t kCapType = 3;
constexpr uint16_t kCapBar = 4;
constexpr uint16_t kCapOffset = 8;
constexpr uint16_t kCapLength = 12;
constexpr uint16_t kCapNotifyMultiplier = 16;

ErrorOr<volatile uint8_t*> map_region(pci::ConfigSpace& config, pci::Address address,
                                      const Region& region, uint32_t min_length, MmioMapper& mmio) {
    const pci::Bar bar = TRY(pci::read_bar(config, address, region.bar));
    if (bar.io || bar.size == 0 || bar.base == 0)
        return Error(ErrorCode::not_supported, "virtio structure is not in an assigned memory BAR");
    if (region.length < min_length || region.offset > bar.size ||
        region.length > bar.size - region.offset)
        return Error(ErrorCode::corrupt, "virtio structure does not fit its BAR");
    return mmio.map_mmio(bar.base + region.offset, region.length);
}

} // namespace

ErrorOr<Capabilities> find_capabilities(pci::ConfigSpace& config, pci::Address address) {
    Capabilities caps;
    pci::for_each_capability(config, address, [&](uint8_t id, uint8_t offset) {
        if (id != pci::kCapabilityVendor)
            return true;
        Region region;
        region.present = true;
        region.bar = config.read8(address, offset + kCapBar);
        region.offset = config.read32(address, offset + kCapOffset);
        region.length = config.read32(address, offset + kCapLength);
        if (region.bar > 5)
            return true; // reserved BAR numbers: the spec says to ignore the capability
        Region* slot = nullptr;
        switch (static_cast<CapabilityType>(config.read8(address, offset + kCapType))) {
        case CapabilityType::common:
            slot = &caps.common;
            break;
        case CapabilityType::notify:
            slot = &caps.notify;
            if (!caps.notify.present)
                caps.notify_offset_multiplier =
                    config.read32(address, offset + kCapNotifyMultiplier);
            break;
        case CapabilityType::isr:
            slot = &caps.isr;
            break;
        case CapabilityType::device:
            slot = &caps.device;
            break;
        default:
            return true;
        }
        if (!slot->present)
            *slot = region;
        return true;
    });
    if (!caps.common.present || !caps.notify.present || !caps.isr.present)
        return Error(ErrorCode::not_supported,
                     "not a modern virtio device (common/notify/ISR capability missing)");
    return caps;
}

ErrorOr<Transport> Transport::open(pci::ConfigSpace& config, const pci::Function& function,
                                   MmioMapper& mmio) {
    const Capabilities caps = TRY(find_capabilities(config, function.address));
    Transport transport;
    transport.common_ = TRY(map_region(config, function.address, caps.common, kCommonLength, mmio));
    transport.notify_base_ = TRY(map_region(config, function.address, caps.notify, 2, mmio));
    transport.isr_ = TRY(map_region(config, function.address, caps.isr, 1, mmio));
    if (caps.device.present) {
        transport.device_ = TRY(map_region(config, function.address, caps.device, 1, mmio));
        transport.device_length_ = caps.device.length;
    }
    transport.notify_multiplier_ = caps.notify_offset_multiplier;
    transport.notify_length_ = caps.notify.length;
    pci::enable_memory_and_bus_master(config, function.address);
    return transport;
}

void Transport::reset() {
    mmio::write8(common_, kDeviceStatus, 0);
    // The reset is complete when status reads back 0 (4.1.4.3.2).
    while (mmio::read8(common_, kDeviceStatus) != 0)
        asm volatile("pause");
}

uint8_t Transport::status() const {
    return mmio::read8(common_, kDeviceStatus);
}

void Transport::write_status(uint8_t status) {
    mmio::write8(common_, kDeviceStatus, status);
}

uint64_t Transport::device_features() const {
    mmio::write32(common_, kDeviceFeatureSelect, 0);
    const uint64_t low = mmio::read32(common_, kDeviceFeature);
    mmio::write32(common_, kDeviceFeatureSelect, 1);
    const uint64_t high = mmio::read32(common_, kDeviceFeature);
    return low | (high << 32);
}

ErrorOr<void> Transport::negotiate(uint64_t driver_features) {
    mmio::write32(common_, kDriverFeatureSelect, 0);
    mmio::write32(common_, kDriverFeature, static_cast<uint32_t>(driver_features));
    mmio::write32(common_, kDriverFeatureSelect, 1);
    mmio::write32(common_, kDriverFeature, static_cast<uint32_t>(driver_features >> 32));
    add_status(kStatusFeaturesOk);
    if ((status() & kStatusFeaturesOk) == 0)
        return Error(ErrorCode::not_supported, "virtio device refused the feature set");
    return {};
}

uint16_t Transport::max_queue_size(uint16_t queue) const {
    mmio::write16(common_, kQueueSelect, queue);
    return mmio::read16(common_, kQueueSize);
}

ErrorOr<void> Transport::enable_queue(uint16_t queue, const SplitVirtqueue& ring) {
    if (queue >= 2)
        return Error(ErrorCode::out_of_range, "only queues 0 and 1 are driven");
    mmio::write16(common_, kQueueSelect, queue);
    mmio::write16(common_, kQueueSize, ring.size());
    // Polled: no MSI-X vector for this queue (the device still counts completions in the ring).
    mmio::write16(common_, kQueueMsixVector, kNoVector);
    mmio::write64_split(common_, kQueueDesc, ring.descriptor_table_address());
    mmio::write64_split(common_, kQueueDriver, ring.available_ring_address());
    mmio::write64_split(common_, kQueueDevice, ring.used_ring_address());
    const uint16_t notify_off = mmio::read16(common_, kQueueNotifyOff);
    if (uint64_t(notify_off) * notify_multiplier_ + 2 > notify_length_)
        return Error(ErrorCode::corrupt, "virtio queue notify address is outside its structure");
    notify_offsets_[queue] = notify_off;
    mmio::write16(common_, kQueueEnable, 1);
    mmio::write16(common_, kMsixConfig, kNoVector);
    return {};
}

void Transport::notify(uint16_t queue) {
    mmio::write16(notify_base_, size_t(notify_offsets_[queue & 1]) * notify_multiplier_, queue);
}

uint8_t Transport::config_generation() const {
    return mmio::read8(common_, kConfigGeneration);
}

uint8_t Transport::device_config8(uint32_t offset) const {
    return mmio::read8(device_, offset);
}

uint16_t Transport::device_config16(uint32_t offset) const {
    return mmio::read16(device_, offset);
}

uint32_t Transport::device_config32(uint32_t offset) const {
    return mmio::read32(device_, offset);
}

} // namespace halcyon::drivers::virtio
