#include "drivers/net/virtio_net.hpp"

#include <string.h>

namespace halcyon::drivers {
namespace {

// virtio_net_config (5.1.4): mac[6] then status (le16, VIRTIO_NET_S_LINK_UP = 1).
constexpr uint32_t kConfigMac = 0;
constexpr uint32_t kConfigStatus = 6;
constexpr uint16_t kLinkUp = 1;

size_t round_up_pages(size_t bytes) {
    return (bytes + 4095) & ~size_t(4095);
}

} // namespace

bool is_virtio_net(const pci::Function& function) {
    if (function.vendor_id != virtio::kPciVendor)
        return false;
    if (function.device_id == kVirtioNetModernDeviceId)
        return true;
    // Transitional device: the subsystem id carries the device type (1 = network).
    return function.device_id == kVirtioNetTransitionalDeviceId && function.subsystem_id == 1;
}

ErrorOr<SplitVirtqueue> VirtioNet::setup_queue(uint16_t queue, uint16_t limit, DmaAllocator& dma,
                                               DmaRegion& buffers) {
    const uint16_t max = transport_.max_queue_size(queue);
    if (max == 0)
        return Error(ErrorCode::not_supported, "virtio-net queue is not available");
    // The largest power of two within both limits (a device may offer any size up to 32768).
    uint16_t size = 1;
    while (size * 2 <= max && size * 2 <= limit && size * 2 <= kMaxQueue)
        size = static_cast<uint16_t>(size * 2);
    const DmaRegion ring = TRY(dma.allocate_dma(round_up_pages(SplitVirtqueue::ring_bytes(size))));
    SplitVirtqueue virtqueue = TRY(SplitVirtqueue::create(size, ring.virt, ring.device_address));
    buffers = TRY(dma.allocate_dma(size_t(size) * kVirtioNetSlotSize));
    TRY(transport_.enable_queue(queue, virtqueue));
    return virtqueue;
}

ErrorOr<void> VirtioNet::start(pci::ConfigSpace& config, const pci::Function& function,
                               MmioMapper& mmio, DmaAllocator& dma, uint16_t queue_limit) {
    if (!is_virtio_net(function))
        return Error(ErrorCode::not_supported, "not a virtio-net device");
    transport_ = TRY(virtio::Transport::open(config, function, mmio));

    // Initialisation sequence of 3.1.1.
    transport_.reset();
    transport_.add_status(virtio::kStatusAcknowledge);
    transport_.add_status(virtio::kStatusDriver);
    const uint64_t offered = transport_.device_features();
    if ((offered & virtio::kFeatureVersion1) == 0) {
        transport_.add_status(virtio::kStatusFailed);
        return Error(ErrorCode::not_supported, "virtio-net device does not offer VERSION_1");
    }
    features_ =
        virtio::kFeatureVersion1 | (offered & (kVirtioNetFeatureMac | kVirtioNetFeatureStatus));
    if (auto result = transport_.negotiate(features_); result.is_error()) {
        transport_.add_status(virtio::kStatusFailed);
        return result.error();
    }

    if ((features_ & kVirtioNetFeatureMac) != 0 && transport_.has_device_config() &&
        transport_.device_config_length() >= 6) {
        // Re-read while the device changes its configuration under us (2.4.1).
        uint8_t generation;
        do {
            generation = transport_.config_generation();
            for (uint32_t i = 0; i < 6; ++i)
                mac_[i] = transport_.device_config8(kConfigMac + i);
        } while (generation != transport_.config_generation());
    } else {
        // No MAC from the device: a locally administered unicast address of our own.
        mac_ = {0x02,
                0x48,
                0x41,
                0x4C,
                function.address.bus,
                static_cast<uint8_t>(function.address.device << 3 | function.address.function)};
    }

    auto rx = setup_queue(kReceiveQueue, queue_limit, dma, rx_memory_);
    if (rx.is_error()) {
        transport_.add_status(virtio::kStatusFailed);
        return rx.error();
    }
    rx_ = rx.value();
    auto tx = setup_queue(kTransmitQueue, queue_limit, dma, tx_memory_);
    if (tx.is_error()) {
        transport_.add_status(virtio::kStatusFailed);
        return tx.error();
    }
    tx_ = tx.value();
    tx_free_count_ = tx_.size();
    for (uint16_t i = 0; i < tx_.size(); ++i)
        tx_free_slots_[i] = static_cast<uint16_t>(tx_.size() - 1 - i);

    transport_.add_status(virtio::kStatusDriverOk);
    // Receive buffers may be posted once DRIVER_OK is set (3.1.1 step 8 allows before, too).
    for (uint16_t slot = 0; slot < rx_.size(); ++slot)
        repost(slot);
    rx_reposted_ = false;
    transport_.notify(kReceiveQueue);
    if ((transport_.status() & virtio::kStatusNeedsReset) != 0)
        return Error(ErrorCode::io, "virtio-net device needs a reset after initialisation");
    return {};
}

bool VirtioNet::link_up() const {
    if ((features_ & kVirtioNetFeatureStatus) == 0 || transport_.device_config_length() < 8)
        return true; // without STATUS the link is assumed up (5.1.4.2)
    return (transport_.device_config16(kConfigStatus) & kLinkUp) != 0;
}

void VirtioNet::repost(uint16_t slot) {
    const uint64_t address = rx_memory_.device_address + size_t(slot) * kVirtioNetSlotSize;
    auto descriptor = rx_.submit(address, kVirtioNetSlotSize, true);
    // Cannot fail: each slot has exactly one descriptor and was just returned by the device.
    if (descriptor.is_error())
        return;
    rx_slot_of_descriptor_[descriptor.value()] = slot;
    rx_reposted_ = true;
}

void VirtioNet::reclaim_transmitted() {
    while (const std::optional<UsedBuffer> used = tx_.take_used())
        tx_free_slots_[tx_free_count_++] = tx_slot_of_descriptor_[used->descriptor];
}

ErrorOr<std::span<uint8_t>> VirtioNet::transmit_buffer() {
    if (pending_tx_slot_ < 0) {
        reclaim_transmitted();
        if (tx_free_count_ == 0) {
            ++stats_.transmit_busy;
            return Error(ErrorCode::busy, "every virtio-net transmit buffer is in flight");
        }
        pending_tx_slot_ = tx_free_slots_[--tx_free_count_];
    }
    uint8_t* slot = tx_memory_.virt + size_t(pending_tx_slot_) * kVirtioNetSlotSize;
    return std::span<uint8_t>(slot + kVirtioNetHeaderSize, kEthernetMaxFrame);
}

ErrorOr<void> VirtioNet::transmit(size_t length) {
    if (pending_tx_slot_ < 0)
        return Error(ErrorCode::invalid_argument, "transmit() without transmit_buffer()");
    if (length == 0 || length > kEthernetMaxFrame)
        return Error(ErrorCode::invalid_argument, "Ethernet frame length out of range");
    const uint16_t slot = static_cast<uint16_t>(pending_tx_slot_);
    uint8_t* buffer = tx_memory_.virt + size_t(slot) * kVirtioNetSlotSize;
    // No offloads negotiated: an all-zero header (flags 0, GSO_NONE, num_buffers 0).
    memset(buffer, 0, kVirtioNetHeaderSize);
    const uint64_t address = tx_memory_.device_address + size_t(slot) * kVirtioNetSlotSize;
    const uint16_t descriptor =
        TRY(tx_.submit(address, static_cast<uint32_t>(kVirtioNetHeaderSize + length), false));
    tx_slot_of_descriptor_[descriptor] = slot;
    pending_tx_slot_ = -1;
    ++stats_.sent;
    if (tx_.device_wants_notification())
        transport_.notify(kTransmitQueue);
    return {};
}

} // namespace halcyon::drivers
