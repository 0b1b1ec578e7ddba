#include "drivers/block/virtio_blk.hpp"

#include "drivers/block/wait.hpp"

#include <string.h>

namespace halcyon::drivers::block {
namespace {

using namespace virtio_blk;

constexpr uint64_t kWantedFeatures = kFeatureSizeMax | kFeatureSegMax | kFeatureReadOnly |
                                     kFeatureBlockSize | kFeatureFlush | kFeatureConfigWce;
constexpr uint8_t kStatusUnwritten = 0xFF; // no valid status: the device did not write it

} // namespace

bool is_virtio_blk(const pci::Function& function) {
    if (function.vendor_id != virtio::kPciVendor)
        return false;
    if (function.device_id == kModernDeviceId)
        return true;
    // Transitional device: the subsystem id carries the device type.
    return function.device_id == kTransitionalDeviceId && function.subsystem_id == kDeviceType;
}

ErrorOr<void> VirtioBlk::start_pci(pci::ConfigSpace& config, const pci::Function& function,
                                   MmioMapper& mmio, DmaAllocator& dma, Delay& delay,
                                   const VirtioBlkOptions& options) {
    if (!is_virtio_blk(function))
        return Error(ErrorCode::not_supported, "not a virtio block device");
    pci_transport_ = TRY(virtio::Transport::open(config, function, mmio));
    return start(pci_transport_, dma, delay, options);
}

ErrorOr<void> VirtioBlk::start(virtio::DeviceTransport& transport, DmaAllocator& dma, Delay& delay,
                               const VirtioBlkOptions& options) {
    if (started_)
        return Error(ErrorCode::already_exists, "virtio-blk driver already started");
    if (options.max_transfer_bytes < 4096)
        return Error(ErrorCode::invalid_argument, "virtio-blk transfer limit below one page");
    transport_ = &transport;
    delay_ = &delay;
    options_ = options;
    info_ = DiskInfo{};
    info_.kind = Kind::virtio_blk;

    // Initialisation sequence of 3.1.1; a reset completes when status reads 0 again.
    transport.write_status(0);
    if (!poll_until(delay, options.reset_timeout_us, [&] { return transport.status() == 0; }))
        return Error(ErrorCode::timeout, "virtio-blk device did not finish its reset");
    transport.add_status(virtio::kStatusAcknowledge);
    transport.add_status(virtio::kStatusDriver);
    if (auto result = negotiate_and_setup(dma); result.is_error()) {
        transport.add_status(virtio::kStatusFailed);
        return result.error();
    }
    transport.add_status(virtio::kStatusDriverOk);
    if ((transport.status() & (virtio::kStatusNeedsReset | virtio::kStatusFailed)) != 0)
        return Error(ErrorCode::io, "virtio-blk device needs a reset after initialisation");
    started_ = true;
    copy_trimmed(info_.model, sizeof(info_.model), reinterpret_cast<const uint8_t*>("virtio-blk"),
                 10);
    read_serial();
    if (failed_)
        return Error(ErrorCode::timeout, "virtio-blk device did not answer its first request");
    return {};
}

ErrorOr<void> VirtioBlk::negotiate_and_setup(DmaAllocator& dma) {
    const uint64_t offered = transport_->device_features();
    if ((offered & virtio::kFeatureVersion1) == 0)
        return Error(ErrorCode::not_supported, "virtio-blk device does not offer VERSION_1");
    features_ = virtio::kFeatureVersion1 | (offered & kWantedFeatures);
    TRY(transport_->negotiate(features_));
    TRY(read_geometry());

    // The largest power of two within the device's maximum and our limit; a request is a chain
    // of three descriptors, so at least four.
    const uint16_t max = transport_->max_queue_size(0);
    uint16_t size = 1;
    while (size * 2 <= max && size * 2 <= options_.queue_limit)
        size = static_cast<uint16_t>(size * 2);
    if (size < 4)
        return Error(ErrorCode::not_supported,
                     "virtio-blk request queue holds fewer than 4 descriptors");
    const size_t ring_bytes = (SplitVirtqueue::ring_bytes(size) + 4095) & ~size_t(4095);
    const DmaRegion ring = TRY(dma.allocate_dma(ring_bytes));
    queue_ = TRY(SplitVirtqueue::create(size, ring.virt, ring.device_address));
    request_memory_ = TRY(dma.allocate_dma(4096));
    TRY(transport_->enable_queue(0, queue_));
    return {};
}

ErrorOr<void> VirtioBlk::read_geometry() {
    if (transport_->device_config_length() < 8)
        return Error(ErrorCode::corrupt, "virtio-blk configuration is too short for capacity");
    const bool has_block_size =
        (features_ & kFeatureBlockSize) != 0 && transport_->device_config_length() >= 24;
    const bool has_size_max =
        (features_ & kFeatureSizeMax) != 0 && transport_->device_config_length() >= 12;
    const bool has_writeback =
        (features_ & kFeatureConfigWce) != 0 && transport_->device_config_length() >= 33;
    uint64_t capacity = 0;
    uint32_t block_size = 512;
    uint32_t size_max = 0;
    uint8_t writeback = 1;
    // Re-read while the device changes its configuration under us (2.4.1): the 64-bit capacity
    // is two reads that must come from one generation.
    uint8_t generation;
    int attempts = 0;
    do {
        if (++attempts > 100)
            return Error(ErrorCode::corrupt, "virtio-blk configuration never settles");
        generation = transport_->config_generation();
        capacity = transport_->device_config32(kConfigCapacity) |
                   uint64_t(transport_->device_config32(kConfigCapacity + 4)) << 32;
        if (has_block_size)
            block_size = transport_->device_config32(kConfigBlockSize);
        if (has_size_max)
            size_max = transport_->device_config32(kConfigSizeMax);
        if (has_writeback)
            writeback = transport_->device_config8(kConfigWriteback);
    } while (generation != transport_->config_generation());

    if (block_size < 512 || block_size > 65536 || (block_size & (block_size - 1)) != 0)
        return Error(ErrorCode::not_supported,
                     "virtio-blk block size is not a power of two between 512 and 64 KiB");
    units_per_sector_ = block_size / 512;
    info_.sector_size = block_size;
    info_.sector_count = capacity / units_per_sector_;
    if (info_.sector_count == 0)
        return Error(ErrorCode::not_supported, "virtio-blk disk has no whole sector");
    uint32_t max_bytes = options_.max_transfer_bytes;
    if (has_size_max && size_max != 0 && size_max < max_bytes)
        max_bytes = size_max;
    if (max_bytes < block_size)
        return Error(ErrorCode::not_supported, "virtio-blk segment limit is below one sector");
    info_.max_transfer_sectors = max_bytes / block_size;
    info_.read_only = (features_ & kFeatureReadOnly) != 0;
    info_.flush_command = (features_ & kFeatureFlush) != 0;
    // Writeback exactly when FLUSH is negotiated, unless the WCE field says write-through.
    info_.volatile_cache = info_.flush_command && writeback != 0;
    info_.native_fua = false;
    return {};
}

void VirtioBlk::read_serial() {
    // GET_ID is optional (UNSUPP from older devices): without it the serial stays empty.
    uint8_t* id = request_memory_.virt + kIdOffset;
    memset(id, 0, kIdBytes);
    const BufferSegment data{request_memory_.device_address + kIdOffset, kIdBytes, true};
    auto status = execute(kTypeGetId, 0, &data);
    if (status.is_error() || status.value() != kStatusOk)
        return;
    copy_trimmed(info_.serial, sizeof(info_.serial), id, kIdBytes);
}

ErrorOr<uint8_t> VirtioBlk::execute(uint32_t type, uint64_t sector, const BufferSegment* data) {
    auto* header = reinterpret_cast<RequestHeader*>(request_memory_.virt + kHeaderOffset);
    header->type = type;
    header->reserved = 0;
    header->sector = sector;
    volatile uint8_t* status = request_memory_.virt + kStatusOffset;
    *status = kStatusUnwritten;

    BufferSegment chain[3];
    size_t length = 0;
    chain[length++] = {request_memory_.device_address + kHeaderOffset, sizeof(RequestHeader),
                       false};
    if (data != nullptr)
        chain[length++] = *data;
    chain[length++] = {request_memory_.device_address + kStatusOffset, 1, true};
    const uint16_t head = TRY(queue_.submit_chain(std::span<const BufferSegment>(chain, length)));
    transport_->notify(0);

    std::optional<UsedBuffer> used;
    if (!poll_until(*delay_, options_.io_timeout_us, [&] {
            used = queue_.take_used();
            return used.has_value();
        })) {
        // The device still owns the chain and may write the buffers later: stop using it.
        failed_ = true;
        return Error(ErrorCode::timeout, "virtio-blk request timed out");
    }
    if (used->descriptor != head) {
        failed_ = true;
        return Error(ErrorCode::corrupt, "virtio-blk device completed a request never submitted");
    }
    return static_cast<uint8_t>(*status);
}

ErrorOr<void> VirtioBlk::check_status(uint8_t status, const char* io_error_message) {
    switch (status) {
    case kStatusOk:
        return {};
    case kStatusIoError:
        return Error(ErrorCode::io, io_error_message);
    case kStatusUnsupported:
        return Error(ErrorCode::not_supported, "virtio-blk device does not support the request");
    default:
        failed_ = true;
        return Error(ErrorCode::corrupt, "virtio-blk device returned no valid request status");
    }
}

ErrorOr<void> VirtioBlk::transfer(bool write, uint64_t lba, uint32_t count, uint64_t device_address,
                                  bool) {
    const BufferSegment data{device_address, count * info_.sector_size, !write};
    const uint8_t status = TRY(execute(write ? kTypeOut : kTypeIn, lba * units_per_sector_, &data));
    return check_status(status, write ? "virtio-blk write failed (device I/O error)"
                                      : "virtio-blk read failed (device I/O error)");
}

ErrorOr<void> VirtioBlk::flush_cache() {
    const uint8_t status = TRY(execute(kTypeFlush, 0, nullptr));
    return check_status(status, "virtio-blk flush failed (device I/O error)");
}

} // namespace halcyon::drivers::block
