// virtio-blk over the modern PCI transport (virtio 1.1, 5.2), polled, one request at a time on
// the first request queue. Each request is a three-descriptor chain: the 16-byte header
// (type, sector), the caller's data buffer, and the status byte the device writes.
//
// Sectors: the device counts capacity and request positions in 512-byte units whatever its
// block size; with VIRTIO_BLK_F_BLK_SIZE the disk's logical sector is blk_size and requests are
// whole blocks. Caching: with VIRTIO_BLK_F_FLUSH the device may cache writes (writeback, unless
// VIRTIO_BLK_F_CONFIG_WCE says otherwise) and FLUSH makes them durable; without it the device is
// write-through (5.2.5), so a completed write is durable. virtio-blk has no FUA: a FUA write is a
// write followed by FLUSH (BlockDevice does that).
#pragma once

#include "drivers/block/block_device.hpp"
#include "drivers/net/device_memory.hpp"
#include "drivers/pci/pci.hpp"
#include "drivers/virtio/virtio_pci.hpp"
#include "drivers/virtio/virtqueue.hpp"
#include "lib/base/error_or.hpp"

#include <stdint.h>

namespace halcyon::drivers::block {

namespace virtio_blk {

inline constexpr uint16_t kModernDeviceId = 0x1042;       // 0x1040 + device type 2
inline constexpr uint16_t kTransitionalDeviceId = 0x1001; // with subsystem id 2
inline constexpr uint16_t kDeviceType = 2;

// Feature bits (5.2.3).
inline constexpr uint64_t kFeatureSizeMax = 1ULL << 1;
inline constexpr uint64_t kFeatureSegMax = 1ULL << 2;
inline constexpr uint64_t kFeatureReadOnly = 1ULL << 5;
inline constexpr uint64_t kFeatureBlockSize = 1ULL << 6;
inline constexpr uint64_t kFeatureFlush = 1ULL << 9;
inline constexpr uint64_t kFeatureConfigWce = 1ULL << 11;

// struct virtio_blk_config (5.2.4), byte offsets.
inline constexpr uint32_t kConfigCapacity = 0; // le64, 512-byte sectors
inline constexpr uint32_t kConfigSizeMax = 8;  // le32, bytes per segment
inline constexpr uint32_t kConfigSegMax = 12;  // le32
inline constexpr uint32_t kConfigBlockSize = 20;
inline constexpr uint32_t kConfigWriteback = 32; // u8

// Request types and status values (5.2.6).
inline constexpr uint32_t kTypeIn = 0;
inline constexpr uint32_t kTypeOut = 1;
inline constexpr uint32_t kTypeFlush = 4;
inline constexpr uint32_t kTypeGetId = 8;
inline constexpr uint8_t kStatusOk = 0;
inline constexpr uint8_t kStatusIoError = 1;
inline constexpr uint8_t kStatusUnsupported = 2;
inline constexpr uint32_t kIdBytes = 20;

struct RequestHeader {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector; // 512-byte units
};
static_assert(sizeof(RequestHeader) == 16);

// Where the driver keeps its request scaffolding inside its one DMA page.
inline constexpr size_t kHeaderOffset = 0;
inline constexpr size_t kStatusOffset = 16;
inline constexpr size_t kIdOffset = 64;

} // namespace virtio_blk

[[nodiscard]] bool is_virtio_blk(const pci::Function& function);

struct VirtioBlkOptions {
    uint64_t reset_timeout_us = 1'000'000;
    uint64_t io_timeout_us = 30'000'000; // one request, including a flush
    uint16_t queue_limit = 16;           // only one request is in flight; a few spare entries
    uint32_t max_transfer_bytes = 1u << 20;
};

class VirtioBlk final : public BlockDevice {
public:
    // Brings the device up over `transport` (reset, ACKNOWLEDGE|DRIVER, features, the request
    // queue, DRIVER_OK), reads the geometry and asks for the serial (GET_ID, if supported).
    // `transport`, `dma` and `delay` must outlive the driver.
    [[nodiscard]] ErrorOr<void> start(virtio::DeviceTransport& transport, DmaAllocator& dma,
                                      Delay& delay, const VirtioBlkOptions& options = {});
    // The PCI part: maps the virtio structures of `function`, then start().
    [[nodiscard]] ErrorOr<void> start_pci(pci::ConfigSpace& config, const pci::Function& function,
                                          MmioMapper& mmio, DmaAllocator& dma, Delay& delay,
                                          const VirtioBlkOptions& options = {});

    [[nodiscard]] uint64_t features() const { return features_; }

private:
    [[nodiscard]] ErrorOr<void> transfer(bool write, uint64_t lba, uint32_t count,
                                         uint64_t device_address, bool fua) override;
    [[nodiscard]] ErrorOr<void> flush_cache() override;

    [[nodiscard]] ErrorOr<void> negotiate_and_setup(DmaAllocator& dma);
    [[nodiscard]] ErrorOr<void> read_geometry();
    void read_serial();
    // Submits header (+ data) + status, notifies, waits; returns the status byte.
    [[nodiscard]] ErrorOr<uint8_t> execute(uint32_t type, uint64_t sector,
                                           const BufferSegment* data);
    [[nodiscard]] ErrorOr<void> check_status(uint8_t status, const char* io_error_message);

    virtio::Transport pci_transport_; // used by start_pci()
    virtio::DeviceTransport* transport_ = nullptr;
    Delay* delay_ = nullptr;
    VirtioBlkOptions options_;
    SplitVirtqueue queue_;
    DmaRegion request_memory_;
    uint64_t features_ = 0;
    uint32_t units_per_sector_ = 1; // 512-byte units per logical sector
};

} // namespace halcyon::drivers::block
