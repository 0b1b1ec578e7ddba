#include "drivers/block/nvme.hpp"

#include "drivers/block/nvme_prp.hpp"
#include "drivers/block/wait.hpp"

#include <string.h>

namespace halcyon::drivers::block {
namespace {

using namespace nvme;

constexpr uint32_t kPageSize = 4096; // CC.MPS = 0

// The errors a failed command status names (4.6.1.2); anything else is reported generically.
Error status_error(uint16_t status) {
    const uint8_t type = status_code_type(status);
    const uint8_t code = status_code(status);
    if (type == 0) {
        switch (code) {
        case 0x01:
            return Error(ErrorCode::not_supported, "NVMe command failed: invalid opcode");
        case 0x02:
            return Error(ErrorCode::invalid_argument, "NVMe command failed: invalid field");
        case 0x04:
            return Error(ErrorCode::io, "NVMe command failed: data transfer error");
        case 0x06:
            return Error(ErrorCode::io, "NVMe command failed: internal controller error");
        case 0x0B:
            return Error(ErrorCode::not_found, "NVMe command failed: invalid namespace or format");
        case 0x20:
            return Error(ErrorCode::permission,
                         "NVMe command failed: namespace is write protected");
        case 0x80:
            return Error(ErrorCode::out_of_range, "NVMe command failed: LBA out of range");
        case 0x81:
            return Error(ErrorCode::out_of_range, "NVMe command failed: capacity exceeded");
        case 0x82:
            return Error(ErrorCode::busy, "NVMe command failed: namespace not ready");
        default:
            return Error(ErrorCode::io, "NVMe command failed (generic status)");
        }
    }
    if (type == 1) {
        switch (code) {
        case 0x01:
            return Error(ErrorCode::invalid_argument, "NVMe command failed: invalid queue id");
        case 0x02:
            return Error(ErrorCode::invalid_argument, "NVMe command failed: invalid queue size");
        default:
            return Error(ErrorCode::io, "NVMe command failed (command specific status)");
        }
    }
    if (type == 2) {
        switch (code) {
        case 0x80:
            return Error(ErrorCode::io, "NVMe command failed: write fault");
        case 0x81:
            return Error(ErrorCode::io, "NVMe command failed: unrecovered read error");
        case 0x86:
            return Error(ErrorCode::permission, "NVMe command failed: access denied");
        default:
            return Error(ErrorCode::io, "NVMe command failed: media or data integrity error");
        }
    }
    return Error(ErrorCode::io, "NVMe command failed (path or vendor specific status)");
}

uint64_t read_le64(const uint8_t* p) {
    uint64_t value;
    memcpy(&value, p, sizeof value);
    return value;
}
uint32_t read_le32(const uint8_t* p) {
    uint32_t value;
    memcpy(&value, p, sizeof value);
    return value;
}

} // namespace

bool is_nvme(const pci::Function& function) {
    return function.class_code == kPciClass && function.subclass == kPciSubclass &&
           function.prog_if == kPciProgIf && function.header_type == 0;
}

ErrorOr<void> Nvme::start(RegisterWindow& registers, DmaAllocator& dma, Delay& delay,
                          const NvmeOptions& options) {
    if (started_)
        return Error(ErrorCode::already_exists, "NVMe driver already started");
    if (options.admin_queue_entries < 2 || options.io_queue_entries < 2)
        return Error(ErrorCode::invalid_argument, "NVMe queues need at least two entries");
    if (options.max_transfer_bytes < kPageSize)
        return Error(ErrorCode::invalid_argument, "NVMe transfer limit below one page");
    registers_ = &registers;
    delay_ = &delay;
    options_ = options;
    info_ = DiskInfo{};
    info_.kind = Kind::nvme;

    cap_ = registers.read64(kCap);
    version_ = registers.read32(kVersion);
    if (cap_ == ~uint64_t(0))
        return Error(ErrorCode::io, "NVMe controller reads as all-ones (absent or powered off)");
    if (!cap_nvm_command_set(cap_))
        return Error(ErrorCode::not_supported, "NVMe controller lacks the NVM command set");
    if (cap_min_page_shift(cap_) > 12 || cap_max_page_shift(cap_) < 12)
        return Error(ErrorCode::not_supported, "NVMe controller does not take 4 KiB pages");
    // CAP.TO is the worst case for CSTS.RDY to follow CC.EN, in 500 ms units (0: use 500 ms).
    const uint32_t units = cap_timeout_500ms(cap_);
    ready_timeout_us_ = uint64_t(units == 0 ? 1 : units) * 500'000;
    if (ready_timeout_us_ > options.max_ready_timeout_us)
        ready_timeout_us_ = options.max_ready_timeout_us;
    doorbell_stride_ = cap_doorbell_stride(cap_);

    TRY(disable());
    TRY(enable(dma));
    started_ = true; // admin commands from here on
    auto identified = [&]() -> ErrorOr<void> {
        TRY(identify_controller());
        TRY(choose_namespace());
        TRY(identify_namespace());
        TRY(create_io_queues(dma));
        return {};
    }();
    if (identified.is_error()) {
        started_ = false;
        return identified.error();
    }
    return {};
}

ErrorOr<void> Nvme::wait_ready(bool ready) {
    const bool reached = poll_until(*delay_, ready_timeout_us_, [&] {
        const uint32_t csts = registers_->read32(kCsts);
        return csts != ~0u && ((csts & kCstsReady) != 0) == ready;
    });
    if (reached)
        return {};
    if ((registers_->read32(kCsts) & kCstsFatal) != 0)
        return Error(ErrorCode::io, "NVMe controller reports a fatal status (CSTS.CFS)");
    return Error(ErrorCode::timeout, ready ? "NVMe controller did not become ready (CSTS.RDY)"
                                           : "NVMe controller did not finish its reset (CSTS.RDY)");
}

ErrorOr<void> Nvme::disable() {
    const uint32_t cc = registers_->read32(kCc);
    if ((cc & kCcEnable) != 0) {
        // Clearing EN while the controller is still becoming ready is undefined (3.1.6): let it
        // finish first. A controller that never gets there is reset anyway.
        if ((registers_->read32(kCsts) & kCstsReady) == 0)
            (void)wait_ready(true);
        registers_->write32(kCc, cc & ~kCcEnable);
    }
    return wait_ready(false);
}

ErrorOr<void> Nvme::enable(DmaAllocator& dma) {
    uint16_t admin_entries = options_.admin_queue_entries;
    if (admin_entries > cap_max_queue_entries(cap_))
        admin_entries = static_cast<uint16_t>(cap_max_queue_entries(cap_));
    if (admin_entries > 4096)
        admin_entries = 4096; // AQA's admin queue size limit
    const DmaRegion submission = TRY(dma.allocate_dma(QueuePair::submission_bytes(admin_entries)));
    const DmaRegion completion = TRY(dma.allocate_dma(QueuePair::completion_bytes(admin_entries)));
    admin_ = TRY(QueuePair::create(0, admin_entries, submission, completion, doorbell_stride_));
    identify_page_ = TRY(dma.allocate_dma(kIdentifyBytes));

    registers_->write32(kAqa, uint32_t(admin_entries - 1) | uint32_t(admin_entries - 1) << 16);
    registers_->write64(kAsq, admin_.submission_address());
    registers_->write64(kAcq, admin_.completion_address());
    registers_->write32(kIntMaskSet, ~0u); // polled: no pin or MSI interrupts
    registers_->write32(kCc, kCcEnable | kCcCssNvm | kCcMps4K | kCcArbitrationRoundRobin |
                                 kCcIoSqEntrySize | kCcIoCqEntrySize);
    TRY(wait_ready(true));
    if ((registers_->read32(kCsts) & kCstsFatal) != 0)
        return Error(ErrorCode::io, "NVMe controller reports a fatal status after enabling");
    return {};
}

ErrorOr<CompletionEntry> Nvme::execute(QueuePair& queue, SubmissionEntry entry,
                                       uint64_t timeout_us) {
    if (failed_)
        return Error(ErrorCode::io, "disk stopped responding earlier; it needs a reset");
    const uint16_t command_id = next_command_id_++;
    entry.cdw0 = (entry.cdw0 & 0xFFFF) | uint32_t(command_id) << 16;
    TRY(queue.submit(*registers_, entry));
    std::optional<CompletionEntry> completion;
    if (!poll_until(*delay_, timeout_us, [&] {
            completion = queue.take_completion(*registers_);
            return completion.has_value();
        })) {
        // The controller still owns the command and its buffers: stop using the driver.
        failed_ = true;
        if ((registers_->read32(kCsts) & kCstsFatal) != 0)
            return Error(ErrorCode::io, "NVMe controller failed (CSTS.CFS) during a command");
        return Error(ErrorCode::timeout, "NVMe command timed out");
    }
    if (completion->command_id != command_id || completion->sq_id != queue.id()) {
        failed_ = true;
        return Error(ErrorCode::corrupt, "NVMe controller completed a command never submitted");
    }
    if (status_code(completion->status) != 0 || status_code_type(completion->status) != 0)
        return status_error(completion->status);
    return *completion;
}

ErrorOr<void> Nvme::identify_controller() {
    memset(identify_page_.virt, 0, kIdentifyBytes);
    SubmissionEntry entry{};
    entry.cdw0 = kAdminIdentify;
    entry.prp1 = identify_page_.device_address;
    entry.cdw10 = kIdentifyController;
    TRY(execute(admin_, entry, options_.admin_timeout_us));
    const uint8_t* id = identify_page_.virt;
    copy_trimmed(info_.model, sizeof(info_.model), id + kIdModel, 40);
    copy_trimmed(info_.serial, sizeof(info_.serial), id + kIdSerial, 20);
    // The I/O queue entry sizes we use (64 / 16 bytes) must be within SQES / CQES.
    const uint8_t sqes = id[kIdSqes];
    const uint8_t cqes = id[kIdCqes];
    if ((sqes & 0xF) > 6 || (sqes >> 4) < 6 || (cqes & 0xF) > 4 || (cqes >> 4) < 4)
        return Error(ErrorCode::not_supported, "NVMe controller needs other queue entry sizes");
    namespace_count_ = read_le32(id + kIdNamespaceCount);
    info_.volatile_cache = (id[kIdVolatileWriteCache] & 1) != 0;
    // Flush and the Write command's FUA bit are mandatory in the NVM command set.
    info_.flush_command = true;
    info_.native_fua = true;

    // MDTS: the largest transfer in units of the minimum page size, as a power of two (0: none).
    uint64_t max_bytes = options_.max_transfer_bytes;
    const uint8_t mdts = id[kIdMdts];
    if (mdts != 0 && mdts < 32) {
        const uint64_t limit = (uint64_t(1) << mdts) << cap_min_page_shift(cap_);
        if (limit < max_bytes)
            max_bytes = limit;
    }
    const uint32_t list_pages = prp_list_pages_needed(max_bytes, kPageSize);
    if (list_pages > kMaxPrpListPages)
        return Error(ErrorCode::invalid_argument, "NVMe transfer limit needs too many PRP lists");
    max_transfer_bytes_ = static_cast<uint32_t>(max_bytes);
    return {};
}

ErrorOr<void> Nvme::choose_namespace() {
    // The first active namespace (CNS 02h, NVMe 1.1+). A 1.0 controller refuses CNS 02h: then
    // namespace 1, which exists whenever the controller has any.
    memset(identify_page_.virt, 0, kIdentifyBytes);
    SubmissionEntry entry{};
    entry.cdw0 = kAdminIdentify;
    entry.nsid = 0;
    entry.prp1 = identify_page_.device_address;
    entry.cdw10 = kIdentifyActiveNamespaces;
    auto listed = execute(admin_, entry, options_.admin_timeout_us);
    if (failed_)
        return listed.error();
    if (!listed.is_error()) {
        nsid_ = read_le32(identify_page_.virt);
        if (nsid_ == 0)
            return Error(ErrorCode::not_found, "NVMe controller has no active namespace");
        return {};
    }
    if (namespace_count_ == 0)
        return Error(ErrorCode::not_found, "NVMe controller has no namespace");
    nsid_ = 1;
    return {};
}

ErrorOr<void> Nvme::identify_namespace() {
    memset(identify_page_.virt, 0, kIdentifyBytes);
    SubmissionEntry entry{};
    entry.cdw0 = kAdminIdentify;
    entry.nsid = nsid_;
    entry.prp1 = identify_page_.device_address;
    entry.cdw10 = kIdentifyNamespace;
    TRY(execute(admin_, entry, options_.admin_timeout_us));
    const uint8_t* ns = identify_page_.virt;
    const uint64_t size = read_le64(ns + kNsSize);
    const uint32_t formats = uint32_t(ns[kNsLbaFormatCount]) + 1;
    const uint8_t flbas = ns[kNsFormattedLbaSize];
    // FLBAS bits 3:0 pick the format; with more than 16 formats bits 6:5 are the high bits.
    uint32_t index = flbas & 0xF;
    if (formats > 16)
        index |= uint32_t((flbas >> 5) & 3) << 4;
    if (index >= formats || index >= 64)
        return Error(ErrorCode::corrupt, "NVMe namespace names an LBA format it does not have");
    const uint32_t format = read_le32(ns + kNsLbaFormats + 4 * index);
    const uint32_t metadata_bytes = format & 0xFFFF;
    const uint32_t lba_shift = (format >> 16) & 0xFF;
    if (size == 0)
        return Error(ErrorCode::not_found, "NVMe namespace is empty (inactive or unformatted)");
    if (lba_shift < 9 || lba_shift > 16)
        return Error(ErrorCode::not_supported, "NVMe LBA size is not 512 bytes to 64 KiB");
    if (metadata_bytes != 0)
        return Error(ErrorCode::not_supported, "NVMe namespace is formatted with metadata");
    info_.sector_size = 1u << lba_shift;
    info_.sector_count = size;
    info_.read_only = (ns[kNsAttributes] & 1) != 0;
    if (max_transfer_bytes_ < info_.sector_size)
        return Error(ErrorCode::not_supported, "NVMe transfer limit is below one LBA");
    uint32_t max_sectors = max_transfer_bytes_ >> lba_shift;
    if (max_sectors > 65536)
        max_sectors = 65536; // NLB is a 16-bit, 0-based count
    info_.max_transfer_sectors = max_sectors;
    return {};
}

ErrorOr<void> Nvme::create_io_queues(DmaAllocator& dma) {
    uint16_t entries = options_.io_queue_entries;
    if (entries > cap_max_queue_entries(cap_))
        entries = static_cast<uint16_t>(cap_max_queue_entries(cap_));
    const DmaRegion submission = TRY(dma.allocate_dma(QueuePair::submission_bytes(entries)));
    const DmaRegion completion = TRY(dma.allocate_dma(QueuePair::completion_bytes(entries)));
    QueuePair io = TRY(QueuePair::create(1, entries, submission, completion, doorbell_stride_));

    // The completion queue first: the submission queue names it.
    SubmissionEntry create_cq{};
    create_cq.cdw0 = kAdminCreateIoCq;
    create_cq.prp1 = io.completion_address();
    create_cq.cdw10 = uint32_t(io.id()) | uint32_t(entries - 1) << 16;
    create_cq.cdw11 = 1; // physically contiguous, interrupts disabled
    TRY(execute(admin_, create_cq, options_.admin_timeout_us));
    SubmissionEntry create_sq{};
    create_sq.cdw0 = kAdminCreateIoSq;
    create_sq.prp1 = io.submission_address();
    create_sq.cdw10 = uint32_t(io.id()) | uint32_t(entries - 1) << 16;
    create_sq.cdw11 = 1 | uint32_t(io.id()) << 16; // contiguous, completions to CQ 1
    TRY(execute(admin_, create_sq, options_.admin_timeout_us));
    io_ = io;

    prp_list_pages_ = prp_list_pages_needed(max_transfer_bytes_, kPageSize);
    for (uint32_t i = 0; i < prp_list_pages_; ++i)
        prp_lists_[i] = TRY(dma.allocate_dma(kPageSize));
    return {};
}

ErrorOr<void> Nvme::transfer(bool write, uint64_t lba, uint32_t count, uint64_t device_address,
                             bool fua) {
    const uint64_t bytes = uint64_t(count) * info_.sector_size;
    const Prps prps = TRY(build_prps(device_address, bytes, kPageSize,
                                     std::span<const DmaRegion>(prp_lists_, prp_list_pages_)));
    SubmissionEntry entry{};
    entry.cdw0 = write ? kIoWrite : kIoRead;
    entry.nsid = nsid_;
    entry.prp1 = prps.prp1;
    entry.prp2 = prps.prp2;
    entry.cdw10 = static_cast<uint32_t>(lba);
    entry.cdw11 = static_cast<uint32_t>(lba >> 32);
    entry.cdw12 = (count - 1) | (write && fua ? kCdw12ForceUnitAccess : 0);
    TRY(execute(io_, entry, options_.io_timeout_us));
    return {};
}

ErrorOr<void> Nvme::flush_cache() {
    SubmissionEntry entry{};
    entry.cdw0 = kIoFlush;
    entry.nsid = nsid_;
    TRY(execute(io_, entry, options_.io_timeout_us));
    return {};
}

} // namespace halcyon::drivers::block
