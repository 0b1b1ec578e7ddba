// Command dispatch, logical unit inventory and unit attentions, and the commands that need no
// block I/O: TEST UNIT READY, REQUEST SENSE, REPORT LUNS, START STOP UNIT.
#include "vmm/vmbus/storvsp/scsi_target.hpp"

#include "vmm/vmbus/storvsp/scsi_constants.hpp"
#include "vmm/vmbus/storvsp/wire.hpp"

#include <string.h>

namespace halcyon::vmm::storvsp {

using namespace scsi;
using protocol::srb_status::kError;
using protocol::srb_status::kInvalidLun;
using protocol::srb_status::kInvalidRequest;

namespace result {

ScsiResult good(uint32_t transferred) {
    ScsiResult r;
    r.transferred = transferred;
    return r;
}

ScsiResult check_condition(const SenseData& sense, uint8_t srb_status) {
    ScsiResult r;
    r.srb_status = srb_status;
    r.scsi_status = status::kCheckCondition;
    r.sense = sense;
    return r;
}

ScsiResult check_condition(SenseKey key, Asc asc) {
    return check_condition(SenseData::make(key, asc));
}

ScsiResult invalid_field_in_cdb(uint16_t byte, uint8_t bit) {
    return check_condition(SenseData::invalid_field_in_cdb(byte, bit));
}

ScsiResult invalid_request() {
    ScsiResult r;
    r.srb_status = kInvalidRequest;
    return r;
}

} // namespace result

namespace {

// The CDB length an operation code's group defines (SPC-4 4.2.5.1); 0 for the groups with no
// fixed length (variable-length and vendor-specific: the target implements none of them).
uint8_t group_cdb_length(uint8_t opcode) {
    switch (opcode >> 5) {
    case 0:
        return 6;
    case 1:
    case 2:
        return 10;
    case 4:
        return 16;
    case 5:
        return 12;
    default:
        return 0;
    }
}

} // namespace

ErrorOr<void> ScsiTarget::attach(uint8_t lun, BlockDevice& device) {
    if (lun >= kMaxLuns)
        return Error(ErrorCode::out_of_range, "storvsp: LUN beyond 63");
    if (luns_[lun] != nullptr)
        return Error(ErrorCode::already_exists, "storvsp: LUN already in use");
    uint32_t logical = device.logical_sector_size();
    uint32_t physical = device.physical_sector_size();
    if ((logical != 512 && logical != 4096) || physical < logical || physical % logical != 0 ||
        ((physical / logical) & (physical / logical - 1)) != 0 || device.sector_count() == 0)
        return Error(ErrorCode::invalid_argument, "storvsp: unsupported disk geometry");
    for (uint32_t other = 0; other < kMaxLuns; ++other)
        if (luns_[other] != nullptr)
            unit_attention_[other] |= kUaLunsChanged;
    luns_[lun] = &device;
    unit_attention_[lun] = 0;
    return {};
}

ErrorOr<void> ScsiTarget::detach(uint8_t lun) {
    if (lun >= kMaxLuns || luns_[lun] == nullptr)
        return Error(ErrorCode::not_found, "storvsp: no disk at that LUN");
    luns_[lun] = nullptr;
    unit_attention_[lun] = 0;
    for (uint32_t other = 0; other < kMaxLuns; ++other)
        if (luns_[other] != nullptr)
            unit_attention_[other] |= kUaLunsChanged;
    return {};
}

ErrorOr<void> ScsiTarget::capacity_changed(uint8_t lun) {
    if (lun >= kMaxLuns || luns_[lun] == nullptr)
        return Error(ErrorCode::not_found, "storvsp: no disk at that LUN");
    unit_attention_[lun] |= kUaCapacityChanged;
    return {};
}

void ScsiTarget::clear_unit_attentions() {
    memset(unit_attention_, 0, sizeof(unit_attention_));
}

uint32_t ScsiTarget::lun_count() const {
    uint32_t count = 0;
    for (BlockDevice* device : luns_)
        count += device != nullptr;
    return count;
}

// Every logical unit lives at path 0, target 0; other paths and targets exist (Linux scans 8
// channels x 2 targets) but have no units.
BlockDevice* ScsiTarget::addressed_device(const ScsiCommand& command) const {
    if (command.path_id != 0 || command.target_id != 0)
        return nullptr;
    return device(command.lun);
}

// The highest-priority pending condition as sense data, cleared (SAM-5: reported once).
SenseData ScsiTarget::take_unit_attention(uint8_t lun) {
    uint8_t& pending = unit_attention_[lun];
    if (pending & kUaCapacityChanged) {
        pending &= static_cast<uint8_t>(~kUaCapacityChanged);
        return SenseData::make(SenseKey::unit_attention, asc::kCapacityDataHasChanged);
    }
    pending &= static_cast<uint8_t>(~kUaLunsChanged);
    return SenseData::make(SenseKey::unit_attention, asc::kReportedLunsDataHasChanged);
}

ScsiResult ScsiTarget::execute(const ScsiCommand& command) {
    // A CDB the SRB cannot hold, or shorter than its operation code defines, is a malformed
    // request rather than a SCSI error.
    if (command.cdb_length == 0 || command.cdb_length > protocol::kMaxCdbBytes ||
        command.cdb_length < group_cdb_length(command.cdb[0]))
        return result::invalid_request();

    BlockDevice* device = addressed_device(command);
    const uint8_t op = command.cdb[0];
    // These three work on any LUN and neither report nor clear unit attentions (SPC-4 5.14).
    if (op == opcode::kReportLuns)
        return report_luns(command);
    if (op == opcode::kInquiry)
        return inquiry(command, device);
    if (op == opcode::kRequestSense)
        return request_sense(command, device);

    if (device == nullptr)
        return result::check_condition(
            SenseData::make(SenseKey::illegal_request, asc::kLogicalUnitNotSupported), kInvalidLun);
    if (unit_attention_[command.lun] != 0)
        return result::check_condition(take_unit_attention(command.lun));

    switch (op) {
    case opcode::kTestUnitReady:
        return result::good();
    case opcode::kStartStopUnit:
    case opcode::kPreventAllowMediumRemoval:
        // A virtual disk is always spinning and has no medium to lock.
        return result::good();
    case opcode::kReadCapacity10:
        return read_capacity10(command, *device);
    case opcode::kServiceActionIn16:
        if ((command.cdb[1] & 0x1F) == kServiceActionReadCapacity16)
            return read_capacity16(command, *device);
        return result::invalid_field_in_cdb(1, 4);
    case opcode::kModeSense6:
    case opcode::kModeSense10:
        return mode_sense(command, *device);
    case opcode::kRead6:
    case opcode::kRead10:
    case opcode::kRead16:
    case opcode::kWrite6:
    case opcode::kWrite10:
    case opcode::kWrite16:
        return read_write(command, *device);
    case opcode::kSynchronizeCache10:
    case opcode::kSynchronizeCache16:
        return synchronize_cache(command, *device);
    case opcode::kUnmap:
        return unmap(command, *device);
    case opcode::kWriteSame10:
    case opcode::kWriteSame16:
        return write_same(command, *device);
    default:
        return result::check_condition(SenseKey::illegal_request,
                                       asc::kInvalidCommandOperationCode);
    }
}

ScsiResult ScsiTarget::send_data(const ScsiCommand& command, std::span<const uint8_t> bytes,
                                 uint32_t allocation_length) {
    uint32_t length = static_cast<uint32_t>(bytes.size());
    if (length > allocation_length)
        length = allocation_length;
    uint32_t buffer = command.data != nullptr ? command.data->size() : 0;
    if (length > buffer)
        length = buffer;
    if (length == 0)
        return result::good();
    if (command.data_in != protocol::kDataIn)
        return result::invalid_request();
    if (command.data->write(0, bytes.first(length)).is_error())
        return result::invalid_request();
    return result::good(length);
}

ScsiResult ScsiTarget::report_luns(const ScsiCommand& command) {
    const uint8_t* cdb = command.cdb;
    const uint8_t select_report = cdb[2];
    // 00h: every LUN; 01h: well-known LUNs only (none here); 02h: both.
    if (select_report > 2)
        return result::invalid_field_in_cdb(2);
    const uint32_t allocation_length = wire::load_be32(&cdb[6]);

    memset(bounce_, 0, 8 + 8 * kMaxLuns);
    uint32_t count = 0;
    if (select_report != 1 && command.path_id == 0 && command.target_id == 0) {
        for (uint32_t lun = 0; lun < kMaxLuns; ++lun) {
            if (luns_[lun] == nullptr)
                continue;
            // Single-level LUN, peripheral device addressing (SAM-5 4.7.6.1).
            bounce_[8 + 8 * count + 1] = static_cast<uint8_t>(lun);
            ++count;
        }
        // SPC-4 6.33: REPORT LUNS clears the inventory-change condition of this I_T nexus.
        for (uint8_t& pending : unit_attention_)
            pending &= static_cast<uint8_t>(~kUaLunsChanged);
    }
    wire::store_be32(bounce_, count * 8);
    return send_data(command, {bounce_, 8 + 8 * count}, allocation_length);
}

ScsiResult ScsiTarget::request_sense(const ScsiCommand& command, BlockDevice* device) {
    const uint8_t* cdb = command.cdb;
    if (cdb[1] & 0x01) // DESC: descriptor-format sense is not supported
        return result::invalid_field_in_cdb(1, 0);
    SenseData sense;
    if (device == nullptr)
        sense = SenseData::make(SenseKey::illegal_request, asc::kLogicalUnitNotSupported);
    else if (unit_attention_[command.lun] != 0)
        sense = take_unit_attention(command.lun);
    else
        sense = SenseData::make(SenseKey::no_sense, asc::kNoAdditionalSense);
    return send_data(command, sense.bytes(), cdb[4]);
}

} // namespace halcyon::vmm::storvsp
