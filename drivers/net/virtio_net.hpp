// virtio-net over the modern PCI transport (virtio 1.1, 5.1), polled: one receive and one
// transmit queue, VIRTIO_F_VERSION_1 + VIRTIO_NET_F_MAC (+ STATUS when offered), no offloads.
// Every buffer is a fixed 2 KiB slot of one DMA region per queue holding the 12-byte
// virtio_net_hdr followed by the Ethernet frame (VERSION_1 allows any layout).
#pragma once

#include "drivers/net/device_memory.hpp"
#include "drivers/pci/pci.hpp"
#include "drivers/virtio/virtio_pci.hpp"
#include "drivers/virtio/virtqueue.hpp"
#include "lib/base/error_or.hpp"

#include <array>
#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::drivers {

inline constexpr uint16_t kVirtioNetModernDeviceId = 0x1041;
inline constexpr uint16_t kVirtioNetTransitionalDeviceId = 0x1000;
inline constexpr uint64_t kVirtioNetFeatureMac = 1ULL << 5;
inline constexpr uint64_t kVirtioNetFeatureStatus = 1ULL << 16;
inline constexpr size_t kVirtioNetHeaderSize = 12;
inline constexpr size_t kEthernetMaxFrame = 1514; // without FCS
inline constexpr size_t kVirtioNetSlotSize = 2048;

using MacAddress = std::array<uint8_t, 6>;

[[nodiscard]] bool is_virtio_net(const pci::Function& function);

struct VirtioNetStats {
    uint64_t received = 0;
    uint64_t sent = 0;
    uint64_t dropped_receive = 0; // runt/oversized completions
    uint64_t transmit_busy = 0;   // send refused because every slot was in flight
};

class VirtioNet {
public:
    // Brings the device up (reset, ACKNOWLEDGE|DRIVER, features, queues, DRIVER_OK) and posts
    // every receive buffer. `queue_limit` caps the queue size (memory: 2 KiB per entry).
    [[nodiscard]] ErrorOr<void> start(pci::ConfigSpace& config, const pci::Function& function,
                                      MmioMapper& mmio, DmaAllocator& dma,
                                      uint16_t queue_limit = 128);

    [[nodiscard]] const MacAddress& mac() const { return mac_; }
    [[nodiscard]] bool link_up() const;
    [[nodiscard]] uint64_t features() const { return features_; }
    [[nodiscard]] const VirtioNetStats& stats() const { return stats_; }

    // Transmit in two steps so the caller copies straight into DMA memory: a frame buffer of
    // kEthernetMaxFrame bytes (busy when every slot is in flight), then send `length` bytes of it.
    [[nodiscard]] ErrorOr<std::span<uint8_t>> transmit_buffer();
    [[nodiscard]] ErrorOr<void> transmit(size_t length);

    // Delivers up to `budget` received frames to deliver(std::span<const uint8_t>) and
    // re-posts their buffers; returns how many were delivered. Also reclaims finished
    // transmissions.
    template <typename Deliver>
    size_t poll(Deliver&& deliver, size_t budget = 32) {
        reclaim_transmitted();
        size_t delivered = 0;
        while (delivered < budget) {
            const std::optional<UsedBuffer> used = rx_.take_used();
            if (!used)
                break;
            const uint16_t slot_index = rx_slot_of_descriptor_[used->descriptor];
            uint8_t* slot = rx_memory_.virt + size_t(slot_index) * kVirtioNetSlotSize;
            if (used->length > kVirtioNetHeaderSize &&
                used->length <= kVirtioNetHeaderSize + kEthernetMaxFrame) {
                deliver(std::span<const uint8_t>(slot + kVirtioNetHeaderSize,
                                                 used->length - kVirtioNetHeaderSize));
                ++stats_.received;
                ++delivered;
            } else {
                ++stats_.dropped_receive;
            }
            repost(slot_index);
        }
        if (rx_reposted_) {
            rx_reposted_ = false;
            transport_.notify(kReceiveQueue);
        }
        return delivered;
    }

private:
    static constexpr uint16_t kReceiveQueue = 0;
    static constexpr uint16_t kTransmitQueue = 1;

    [[nodiscard]] ErrorOr<SplitVirtqueue> setup_queue(uint16_t queue, uint16_t limit,
                                                      DmaAllocator& dma, DmaRegion& buffers);
    void repost(uint16_t slot);
    void reclaim_transmitted();

    virtio::Transport transport_;
    SplitVirtqueue rx_;
    SplitVirtqueue tx_;
    DmaRegion rx_memory_;
    DmaRegion tx_memory_;
    uint64_t features_ = 0;
    MacAddress mac_{};
    bool rx_reposted_ = false;
    // Buffers are slots of the DMA regions; the queue's descriptors point at them. The maps
    // find a slot again when the device returns a descriptor.
    static constexpr uint16_t kMaxQueue = 256;
    uint16_t rx_slot_of_descriptor_[kMaxQueue] = {};
    uint16_t tx_slot_of_descriptor_[kMaxQueue] = {};
    uint16_t tx_free_slots_[kMaxQueue] = {};
    uint16_t tx_free_count_ = 0;
    int32_t pending_tx_slot_ = -1; // handed out by transmit_buffer(), not yet sent
    VirtioNetStats stats_;
};

} // namespace halcyon::drivers
