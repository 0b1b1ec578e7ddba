// Finding the disks at boot: every supported PCI function (virtio-blk, NVMe, AHCI) gets its
// driver started, and each disk - or each failure - is reported as one line:
//
//   disk nvme 00:04.0: 262144 sectors of 512 bytes (128 MiB), model "QEMU NVMe Ctrl",
//        serial "nvme0", flush yes, fua yes
//   disk ahci 00:1f.2 port 0: ...
//   disk virtio-blk 00:03.0: not started: <why>            (a warning)
//   disk ahci 00:1f.2 port 2: skipped: ATAPI device (optical drive), not a disk
//
// Then, when asked, the scratch-disk self-test (selftest.hpp) on each disk, one line each:
//   disk selftest ok: nvme 00:04.0, 2048 sectors at 260096 (write + FUA, flush, read back)
//
// Pure over the driver interfaces: drivers live in fixed storage here (no allocation but the
// DMA memory they take), lines go to a LineSink (the core's log; a vector in host tests).
#pragma once

#include "drivers/block/ahci.hpp"
#include "drivers/block/block_device.hpp"
#include "drivers/block/nvme.hpp"
#include "drivers/block/virtio_blk.hpp"
#include "drivers/net/device_memory.hpp"
#include "drivers/pci/pci.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::drivers::block {

class LineSink {
public:
    // `problem`: a failure worth a warning rather than information.
    virtual void line(bool problem, const char* text) = 0;

protected:
    ~LineSink() = default;
};

inline constexpr uint32_t kNoPort = 0xFFFF'FFFF;

struct DiskEntry {
    BlockDevice* device = nullptr;
    pci::Address address;
    uint32_t port = kNoPort; // AHCI port, else kNoPort
};

// "nvme 00:04.0" or "ahci 00:1f.2 port 3" (at most 32 bytes with the terminator).
void format_disk_name(Kind kind, pci::Address address, uint32_t port, char* out, size_t size);

// The report line for a started disk (without the log prefix).
void format_disk_line(const DiskEntry& disk, char* out, size_t size);

class DiskSet {
public:
    static constexpr size_t kMaxVirtioBlk = 8;
    static constexpr size_t kMaxNvme = 4;
    static constexpr size_t kMaxAhci = 2;
    static constexpr size_t kMaxDisks = 32;

    // Starts a driver for every supported disk among `functions` and reports each on `sink`.
    // Returns the number of disks started (also disks().size()).
    size_t probe(pci::ConfigSpace& config, std::span<const pci::Function> functions,
                 MmioMapper& mmio, DmaAllocator& dma, Delay& delay, LineSink& sink);

    // The self-test on every started disk (only scratch-marked ones are written), one line each.
    // Returns the number of disks that passed.
    size_t selftest(DmaAllocator& dma, LineSink& sink);

    [[nodiscard]] std::span<const DiskEntry> disks() const { return {entries_, count_}; }

private:
    void add(BlockDevice& device, pci::Address address, uint32_t port, LineSink& sink);
    void report_failure(Kind kind, pci::Address address, uint32_t port, const char* why,
                        LineSink& sink);
    void probe_ahci(pci::ConfigSpace& config, const pci::Function& function, MmioMapper& mmio,
                    DmaAllocator& dma, Delay& delay, LineSink& sink);

    VirtioBlk virtio_[kMaxVirtioBlk];
    Nvme nvme_[kMaxNvme];
    AhciController ahci_[kMaxAhci];
    size_t virtio_count_ = 0;
    size_t nvme_count_ = 0;
    size_t ahci_count_ = 0;
    DiskEntry entries_[kMaxDisks];
    size_t count_ = 0;
};

} // namespace halcyon::drivers::block
