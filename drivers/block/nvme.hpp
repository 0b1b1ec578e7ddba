// Polled NVMe driver (NVMe base specification 1.4): controller reset and enable with the
// CAP.TO bound on CSTS.RDY, the admin queue, IDENTIFY controller / active namespaces /
// namespace, one I/O queue pair, and READ / WRITE (FUA on request) / FLUSH on the first active
// namespace, data described by PRPs (lists for transfers over two pages).
//
// The logic is written against RegisterWindow (BAR0) and DMA memory; start_pci() is the thin
// part that finds and maps BAR0 on real PCI. One command is in flight at a time; a command that
// does not complete in time leaves the driver failed (the controller may still own its memory).
#pragma once

#include "drivers/block/block_device.hpp"
#include "drivers/block/nvme_queue.hpp"
#include "drivers/block/nvme_spec.hpp"
#include "drivers/block/register_window.hpp"
#include "drivers/net/device_memory.hpp"
#include "drivers/pci/pci.hpp"
#include "lib/base/error_or.hpp"

#include <stdint.h>

namespace halcyon::drivers::block {

[[nodiscard]] bool is_nvme(const pci::Function& function);

struct NvmeOptions {
    // CSTS.RDY transitions wait CAP.TO (500 ms units) but never longer than this.
    uint64_t max_ready_timeout_us = 60'000'000;
    uint64_t admin_timeout_us = 5'000'000;
    uint64_t io_timeout_us = 30'000'000;
    uint16_t admin_queue_entries = 16;
    uint16_t io_queue_entries = 32;
    uint32_t max_transfer_bytes = 1u << 20;
};

class Nvme final : public BlockDevice {
public:
    // Resets and enables the controller behind `registers`, identifies it and its first active
    // namespace and creates the I/O queue pair. `registers`, `dma` and `delay` must outlive the
    // driver.
    [[nodiscard]] ErrorOr<void> start(RegisterWindow& registers, DmaAllocator& dma, Delay& delay,
                                      const NvmeOptions& options = {});
    // The PCI part: checks the class code, maps BAR0, turns message interrupts off (polled),
    // enables memory decoding and bus mastering, then start().
    [[nodiscard]] ErrorOr<void> start_pci(pci::ConfigSpace& config, const pci::Function& function,
                                          MmioMapper& mmio, DmaAllocator& dma, Delay& delay,
                                          const NvmeOptions& options = {});

    [[nodiscard]] uint32_t namespace_id() const { return nsid_; }
    [[nodiscard]] uint64_t capabilities() const { return cap_; }
    [[nodiscard]] uint32_t version() const { return version_; }

private:
    [[nodiscard]] ErrorOr<void> transfer(bool write, uint64_t lba, uint32_t count,
                                         uint64_t device_address, bool fua) override;
    [[nodiscard]] ErrorOr<void> flush_cache() override;

    [[nodiscard]] ErrorOr<void> wait_ready(bool ready);
    [[nodiscard]] ErrorOr<void> disable();
    [[nodiscard]] ErrorOr<void> enable(DmaAllocator& dma);
    [[nodiscard]] ErrorOr<void> identify_controller();
    [[nodiscard]] ErrorOr<void> choose_namespace();
    [[nodiscard]] ErrorOr<void> identify_namespace();
    [[nodiscard]] ErrorOr<void> create_io_queues(DmaAllocator& dma);
    // Submits `entry` on `queue` (a fresh command id is set) and waits for its completion;
    // a failed status becomes an error naming it.
    [[nodiscard]] ErrorOr<nvme::CompletionEntry>
    execute(nvme::QueuePair& queue, nvme::SubmissionEntry entry, uint64_t timeout_us);

    RegisterWindow* registers_ = nullptr;
    MmioRegisterWindow mmio_registers_; // used by start_pci()
    Delay* delay_ = nullptr;
    NvmeOptions options_;
    uint64_t cap_ = 0;
    uint32_t version_ = 0;
    uint64_t ready_timeout_us_ = 0;
    uint32_t doorbell_stride_ = 4;
    nvme::QueuePair admin_;
    nvme::QueuePair io_;
    DmaRegion identify_page_;
    static constexpr size_t kMaxPrpListPages = 4;
    DmaRegion prp_lists_[kMaxPrpListPages];
    uint32_t prp_list_pages_ = 0;
    uint32_t max_transfer_bytes_ = 0;
    uint32_t nsid_ = 0;
    uint32_t namespace_count_ = 0;
    uint16_t next_command_id_ = 0;
};

} // namespace halcyon::drivers::block
