// The SCSI target behind one synthetic controller: up to 64 logical units at path 0, target 0
// (Linux addresses them as H:0:0:LUN), each a BlockDevice. It executes one CDB at a time against
// the SRB's guest data buffer and returns SAM status, the SRB status storvsc expects and
// fixed-format sense data for every error. docs/storvsp.md has the command table.
//
// Unit attentions (SAM-5 5.14): capacity changes (2Ah/09h, online resize) and LUN inventory
// changes (3Fh/0Eh, hot-add/remove) are held per logical unit for the one I_T nexus (the guest's
// storvsc) and reported once, by the next command other than INQUIRY, REPORT LUNS and REQUEST
// SENSE; REQUEST SENSE returns and clears one; REPORT LUNS clears the inventory one everywhere.
//
// Allocation-free: data moves through a fixed bounce buffer inside the target.
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/vmbus/storvsp/block_device.hpp"
#include "vmm/vmbus/storvsp/guest_buffer.hpp"
#include "vmm/vmbus/storvsp/protocol.hpp"
#include "vmm/vmbus/storvsp/sense.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::storvsp {

// One SCSI command as the SRB carries it.
struct ScsiCommand {
    uint8_t path_id = 0;
    uint8_t target_id = 0;
    uint8_t lun = 0;
    uint8_t cdb_length = 0;
    uint8_t cdb[protocol::kMaxCdbBytes] = {}; // bytes past cdb_length are zero
    uint8_t data_in = protocol::kNoData;      // the SRB's direction field
    const GuestBuffer* data = nullptr;        // data_transfer_length bytes; may be empty
};

struct ScsiResult {
    uint8_t srb_status = protocol::srb_status::kSuccess; // without the autosense flag
    uint8_t scsi_status = 0;                             // SAM status
    uint32_t transferred = 0;                            // bytes moved to or from the guest
    SenseData sense;                                     // with CHECK CONDITION only
};

class ScsiTarget {
public:
    static constexpr uint32_t kMaxLuns = 64;
    // Data moves in pieces of this size (a multiple of every sector size).
    static constexpr uint32_t kBounceBytes = 64 * 1024;
    static constexpr uint32_t kMaxUnmapDescriptors = 64;
    // WRITE SAME may cover at most this many bytes (it may have to write them all).
    static constexpr uint64_t kMaxWriteSameBytes = 1ull << 30;

    // max_transfer_bytes: what the controller advertises (VPD B0 MAXIMUM TRANSFER LENGTH).
    explicit ScsiTarget(uint32_t max_transfer_bytes) : max_transfer_bytes_(max_transfer_bytes) {}
    ScsiTarget(const ScsiTarget&) = delete;
    ScsiTarget& operator=(const ScsiTarget&) = delete;

    // Adds a logical unit; the other units get REPORTED LUNS DATA HAS CHANGED.
    [[nodiscard]] ErrorOr<void> attach(uint8_t lun, BlockDevice& device);
    // Removes a logical unit; the remaining units get REPORTED LUNS DATA HAS CHANGED.
    [[nodiscard]] ErrorOr<void> detach(uint8_t lun);
    // The unit's capacity changed: CAPACITY DATA HAS CHANGED for it.
    [[nodiscard]] ErrorOr<void> capacity_changed(uint8_t lun);
    // A new I_T nexus (the guest's driver connected again): nothing pending carries over.
    void clear_unit_attentions();

    [[nodiscard]] BlockDevice* device(uint8_t lun) const {
        return lun < kMaxLuns ? luns_[lun] : nullptr;
    }
    [[nodiscard]] uint32_t lun_count() const;
    [[nodiscard]] bool unit_attention_pending(uint8_t lun) const {
        return lun < kMaxLuns && unit_attention_[lun] != 0;
    }

    [[nodiscard]] ScsiResult execute(const ScsiCommand& command);

private:
    // Pending unit attention conditions (bits of unit_attention_[lun]).
    static constexpr uint8_t kUaCapacityChanged = 1;
    static constexpr uint8_t kUaLunsChanged = 2;

    [[nodiscard]] BlockDevice* addressed_device(const ScsiCommand& command) const;
    [[nodiscard]] SenseData take_unit_attention(uint8_t lun);

    // Command handlers (scsi_*.cpp). `device` is null for an absent logical unit.
    [[nodiscard]] ScsiResult inquiry(const ScsiCommand& command, BlockDevice* device);
    [[nodiscard]] ScsiResult report_luns(const ScsiCommand& command);
    [[nodiscard]] ScsiResult request_sense(const ScsiCommand& command, BlockDevice* device);
    [[nodiscard]] ScsiResult read_capacity10(const ScsiCommand& command, BlockDevice& device);
    [[nodiscard]] ScsiResult read_capacity16(const ScsiCommand& command, BlockDevice& device);
    [[nodiscard]] ScsiResult mode_sense(const ScsiCommand& command, BlockDevice& device);
    [[nodiscard]] ScsiResult read_write(const ScsiCommand& command, BlockDevice& device);
    [[nodiscard]] ScsiResult synchronize_cache(const ScsiCommand& command, BlockDevice& device);
    [[nodiscard]] ScsiResult unmap(const ScsiCommand& command, BlockDevice& device);
    [[nodiscard]] ScsiResult write_same(const ScsiCommand& command, BlockDevice& device);

    // Copies `bytes` (truncated to the allocation length and the guest's buffer) to the guest.
    [[nodiscard]] ScsiResult send_data(const ScsiCommand& command, std::span<const uint8_t> bytes,
                                       uint32_t allocation_length);
    // Moves count sectors from the device to the guest buffer, or back.
    [[nodiscard]] ScsiResult read_sectors(const ScsiCommand& command, BlockDevice& device,
                                          uint64_t lba, uint32_t count);
    [[nodiscard]] ScsiResult write_sectors(const ScsiCommand& command, BlockDevice& device,
                                           uint64_t lba, uint32_t count, bool fua);

    // VPD pages (scsi_inquiry.cpp) build into bounce_ and return their length.
    [[nodiscard]] uint32_t build_standard_inquiry(BlockDevice* device);
    [[nodiscard]] uint32_t build_vpd(uint8_t page, BlockDevice& device, bool& supported);
    [[nodiscard]] uint32_t vpd_block_limits(BlockDevice& device);

    BlockDevice* luns_[kMaxLuns] = {};
    uint8_t unit_attention_[kMaxLuns] = {};
    uint32_t max_transfer_bytes_;
    alignas(64) uint8_t bounce_[kBounceBytes];
};

// Results the handlers share.
namespace result {
[[nodiscard]] ScsiResult good(uint32_t transferred = 0);
[[nodiscard]] ScsiResult check_condition(const SenseData& sense,
                                         uint8_t srb_status = protocol::srb_status::kError);
[[nodiscard]] ScsiResult check_condition(scsi::SenseKey key, scsi::Asc asc);
[[nodiscard]] ScsiResult invalid_field_in_cdb(uint16_t byte, uint8_t bit = 0xFF);
// The SRB itself was unusable (wrong direction, a data buffer the guest's memory does not
// back): the request fails at the transport level, without SCSI status or sense.
[[nodiscard]] ScsiResult invalid_request();
} // namespace result

} // namespace halcyon::vmm::storvsp
