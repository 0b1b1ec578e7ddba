// MODE SENSE(6) and MODE SENSE(10) (SPC-4 6.11, 6.12) with the caching page (SBC-3 6.4.5) and
// the control page (SPC-4 7.5.8). sd reads the write-protect bit (page 3Fh) and the caching page
// (write cache enabled, DPO/FUA supported) to decide whether to send SYNCHRONIZE CACHE and FUA.
// Nothing is changeable: there is no MODE SELECT.
#include "vmm/vmbus/storvsp/scsi_constants.hpp"
#include "vmm/vmbus/storvsp/scsi_target.hpp"
#include "vmm/vmbus/storvsp/wire.hpp"

#include <string.h>

namespace halcyon::vmm::storvsp {

using namespace scsi;

namespace {

constexpr uint8_t kPageControlChangeable = 1;
constexpr uint8_t kPageControlSaved = 3;
constexpr uint8_t kAllSubpages = 0xFF;

// Device-specific parameter of a direct-access device.
constexpr uint8_t kWriteProtect = 0x80;
constexpr uint8_t kDpoFua = 0x10;

constexpr uint32_t kCachingPageBytes = 20;
constexpr uint32_t kControlPageBytes = 12;

uint32_t put_caching_page(uint8_t* at, bool changeable) {
    memset(at, 0, kCachingPageBytes);
    at[0] = mode_page::kCaching;
    at[1] = kCachingPageBytes - 2;
    // WCE: writes are durable only after SYNCHRONIZE CACHE (or FUA), as with a VHDX.
    if (!changeable)
        at[2] = 0x04;
    return kCachingPageBytes;
}

uint32_t put_control_page(uint8_t* at, bool changeable) {
    memset(at, 0, kControlPageBytes);
    at[0] = mode_page::kControl;
    at[1] = kControlPageBytes - 2;
    // QUEUE ALGORITHM MODIFIER 1: simple commands may be reordered (storvsc queues many).
    if (!changeable)
        at[3] = 0x10;
    return kControlPageBytes;
}

} // namespace

ScsiResult ScsiTarget::mode_sense(const ScsiCommand& command, BlockDevice& device) {
    const uint8_t* cdb = command.cdb;
    const bool ten = cdb[0] == opcode::kModeSense10;
    const bool disable_block_descriptors = cdb[1] & 0x08;
    const bool long_lba = ten && (cdb[1] & 0x10);
    const uint8_t page_control = cdb[2] >> 6;
    const uint8_t page = cdb[2] & 0x3F;
    const uint8_t subpage = cdb[3];
    const uint32_t allocation_length = ten ? wire::load_be16(&cdb[7]) : cdb[4];

    if (page_control == kPageControlSaved)
        return result::check_condition(SenseKey::illegal_request,
                                       asc::kSavingParametersNotSupported);
    if (page != mode_page::kCaching && page != mode_page::kControl && page != mode_page::kAllPages)
        return result::invalid_field_in_cdb(2, 5);
    // These pages have no subpages: subpage 0, or "all subpages" (FFh).
    if (subpage != 0 && subpage != kAllSubpages)
        return result::invalid_field_in_cdb(3);

    uint8_t* data = bounce_;
    const uint32_t header_bytes = ten ? 8 : 4;
    const uint32_t descriptor_bytes = disable_block_descriptors ? 0 : (long_lba ? 16 : 8);
    memset(data, 0, header_bytes + descriptor_bytes);
    uint32_t at = header_bytes;

    const uint32_t logical = device.logical_sector_size();
    const uint64_t blocks = device.sector_count();
    if (descriptor_bytes == 8) {
        // Short descriptor: a count past 24 bits reads FFFFFFh ("use READ CAPACITY").
        wire::store_be24(&data[at + 1],
                         blocks > 0xFFFFFF ? 0xFFFFFF : static_cast<uint32_t>(blocks));
        wire::store_be24(&data[at + 5], logical);
    } else if (descriptor_bytes == 16) {
        wire::store_be64(&data[at], blocks);
        wire::store_be32(&data[at + 12], logical);
    }
    at += descriptor_bytes;

    const bool changeable = page_control == kPageControlChangeable;
    if (page == mode_page::kCaching || page == mode_page::kAllPages)
        at += put_caching_page(&data[at], changeable);
    if (page == mode_page::kControl || page == mode_page::kAllPages)
        at += put_control_page(&data[at], changeable);

    const uint8_t device_specific =
        static_cast<uint8_t>((device.read_only() ? kWriteProtect : 0) | kDpoFua);
    if (ten) {
        wire::store_be16(&data[0], static_cast<uint16_t>(at - 2)); // MODE DATA LENGTH
        data[3] = device_specific;
        data[4] = long_lba ? 0x01 : 0x00; // LONGLBA
        wire::store_be16(&data[6], static_cast<uint16_t>(descriptor_bytes));
    } else {
        data[0] = static_cast<uint8_t>(at - 1);
        data[2] = device_specific;
        data[3] = static_cast<uint8_t>(descriptor_bytes);
    }
    return send_data(command, {data, at}, allocation_length);
}

} // namespace halcyon::vmm::storvsp
