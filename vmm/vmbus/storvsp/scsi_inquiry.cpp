// INQUIRY: standard data and the vital product data pages Linux reads (it lists them from page
// 00h because storvsc sets BLIST_TRY_VPD_PAGES): 80h serial, 83h identification, B0h block
// limits, B1h block device characteristics, B2h logical block provisioning.
#include "vmm/vmbus/storvsp/scsi_constants.hpp"
#include "vmm/vmbus/storvsp/scsi_target.hpp"
#include "vmm/vmbus/storvsp/wire.hpp"

#include <string.h>

namespace halcyon::vmm::storvsp {

using namespace scsi;

namespace {

// The identity of a Hyper-V virtual disk. Guests key behaviour on it: Linux's storvsc applies
// its Hyper-V rules (SPC-3 level on Windows 8/8.1 protocol hosts, WRITE SAME from the Windows 10
// protocol on) only to vendor "Msft".
constexpr char kVendor[8] = {'M', 's', 'f', 't', ' ', ' ', ' ', ' '};
constexpr char kProduct[16] = {'V', 'i', 'r', 't', 'u', 'a', 'l', ' ',
                               'D', 'i', 's', 'k', ' ', ' ', ' ', ' '};
constexpr char kRevision[4] = {'1', '.', '0', ' '};

constexpr uint32_t kStandardInquiryBytes = 36;
constexpr uint8_t kVersionSpc4 = 0x06;
constexpr uint8_t kResponseDataFormat2 = 0x02;
constexpr uint8_t kHiSup = 0x10;  // hierarchical LUN addressing in REPORT LUNS
constexpr uint8_t kCmdQue = 0x02; // full task management: commands may be queued

constexpr uint8_t kSupportedPages[] = {
    vpd::kSupportedPages, vpd::kUnitSerialNumber,           vpd::kDeviceIdentification,
    vpd::kBlockLimits,    vpd::kBlockDeviceCharacteristics, vpd::kLogicalBlockProvisioning,
};

// Designation descriptor header (SPC-4 7.8.6.1): code set, then association (logical unit) and
// designator type.
constexpr uint8_t kCodeSetBinary = 0x1;
constexpr uint8_t kCodeSetAscii = 0x2;
constexpr uint8_t kDesignatorT10VendorId = 0x1;
constexpr uint8_t kDesignatorNaa = 0x3;
// NAA 3h: "locally assigned" — 60 bits the device chooses, no IEEE company id needed.
constexpr uint8_t kNaaLocallyAssigned = 0x3;

constexpr char kHexDigits[] = "0123456789ABCDEF";

uint32_t put_designator_header(uint8_t* at, uint8_t code_set, uint8_t type, uint8_t length) {
    at[0] = code_set;
    at[1] = type; // PIV 0, association 00b (the logical unit)
    at[2] = 0;
    at[3] = length;
    return 4;
}

// Builds a page header {type, code, length} and returns the total length.
uint32_t finish_page(uint8_t* page, uint8_t code, uint32_t body_bytes) {
    page[0] = kDirectAccessDevice;
    page[1] = code;
    wire::store_be16(&page[2], static_cast<uint16_t>(body_bytes));
    return 4 + body_bytes;
}

} // namespace

uint32_t ScsiTarget::build_standard_inquiry(BlockDevice* device) {
    uint8_t* data = bounce_;
    memset(data, 0, kStandardInquiryBytes);
    data[0] = device != nullptr ? kDirectAccessDevice : kLogicalUnitNotPresent;
    data[2] = kVersionSpc4;
    data[3] = kHiSup | kResponseDataFormat2;
    data[4] = kStandardInquiryBytes - 5; // ADDITIONAL LENGTH
    data[7] = kCmdQue;
    memcpy(&data[8], kVendor, sizeof(kVendor));
    memcpy(&data[16], kProduct, sizeof(kProduct));
    memcpy(&data[32], kRevision, sizeof(kRevision));
    return kStandardInquiryBytes;
}

uint32_t ScsiTarget::vpd_block_limits(BlockDevice& device) {
    uint8_t* page = bounce_;
    memset(page, 0, 64);
    const uint32_t logical = device.logical_sector_size();
    page[4] = 0x01; // WSNZ: WRITE SAME with zero blocks ("to the end") is refused
    // OPTIMAL TRANSFER LENGTH GRANULARITY: one physical sector.
    wire::store_be16(&page[6], static_cast<uint16_t>(device.physical_sector_size() / logical));
    wire::store_be32(&page[8], max_transfer_bytes_ / logical);
    if (device.unmap_granularity() != 0) {
        wire::store_be32(&page[20], UINT32_MAX); // MAXIMUM UNMAP LBA COUNT
        wire::store_be32(&page[24], kMaxUnmapDescriptors);
        wire::store_be32(&page[28], device.unmap_granularity());
        page[32] = 0x80; // UGAVALID, alignment 0
    }
    wire::store_be64(&page[36], kMaxWriteSameBytes / logical);
    return finish_page(page, vpd::kBlockLimits, 0x3C);
}

uint32_t ScsiTarget::build_vpd(uint8_t code, BlockDevice& device, bool& supported) {
    uint8_t* page = bounce_;
    supported = true;
    switch (code) {
    case vpd::kSupportedPages:
        memcpy(&page[4], kSupportedPages, sizeof(kSupportedPages));
        return finish_page(page, code, sizeof(kSupportedPages));
    case vpd::kUnitSerialNumber: {
        std::string_view serial = device.serial();
        uint32_t length = static_cast<uint32_t>(serial.size());
        if (length > BlockDevice::kMaxSerialBytes)
            length = BlockDevice::kMaxSerialBytes;
        // PRODUCT SERIAL NUMBER is ASCII: anything unprintable becomes '_'.
        for (uint32_t i = 0; i < length; ++i) {
            char c = serial[i];
            page[4 + i] = c >= 0x20 && c < 0x7F ? static_cast<uint8_t>(c) : '_';
        }
        return finish_page(page, code, length);
    }
    case vpd::kDeviceIdentification: {
        const DiskId id = device.disk_id();
        uint32_t at = 4;
        // NAA locally assigned, from the disk id folded to 60 bits: gives the disk a WWN
        // (Linux: /dev/disk/by-id/wwn-0x3...).
        at += put_designator_header(&page[at], kCodeSetBinary, kDesignatorNaa, 8);
        for (uint32_t i = 0; i < 8; ++i)
            page[at + i] = id.bytes[i] ^ id.bytes[i + 8];
        page[at] = static_cast<uint8_t>((kNaaLocallyAssigned << 4) | (page[at] & 0x0F));
        at += 8;
        // T10 vendor id: the vendor plus the whole disk id in hex (unique by itself).
        at += put_designator_header(&page[at], kCodeSetAscii, kDesignatorT10VendorId, 8 + 32);
        memcpy(&page[at], kVendor, sizeof(kVendor));
        at += 8;
        for (uint8_t byte : id.bytes) {
            page[at++] = static_cast<uint8_t>(kHexDigits[byte >> 4]);
            page[at++] = static_cast<uint8_t>(kHexDigits[byte & 0xF]);
        }
        return finish_page(page, code, at - 4);
    }
    case vpd::kBlockLimits:
        return vpd_block_limits(device);
    case vpd::kBlockDeviceCharacteristics:
        memset(page, 0, 64);
        // MEDIUM ROTATION RATE 1: non-rotating medium (no seek penalty worth scheduling for).
        wire::store_be16(&page[4], 1);
        return finish_page(page, code, 0x3C);
    case vpd::kLogicalBlockProvisioning:
        memset(page, 0, 8);
        if (device.unmap_granularity() != 0) {
            // LBPU (UNMAP), LBPWS (WRITE SAME(16) + UNMAP), LBPWS10 (WRITE SAME(10) + UNMAP),
            // LBPRZ: an unmapped block reads as zeros.
            page[5] = 0x80 | 0x40 | 0x20 | 0x04;
            page[6] = 0x02; // PROVISIONING TYPE: thin
        }
        return finish_page(page, code, 4);
    default:
        supported = false;
        return 0;
    }
}

ScsiResult ScsiTarget::inquiry(const ScsiCommand& command, BlockDevice* device) {
    const uint8_t* cdb = command.cdb;
    if (cdb[1] & 0xFE) // CMDDT (obsolete) and reserved bits
        return result::invalid_field_in_cdb(1);
    const bool evpd = cdb[1] & 0x01;
    const uint8_t page = cdb[2];
    const uint16_t allocation_length = wire::load_be16(&cdb[3]);
    if (!evpd) {
        if (page != 0)
            return result::invalid_field_in_cdb(2);
        uint32_t length = build_standard_inquiry(device);
        return send_data(command, {bounce_, length}, allocation_length);
    }
    // An absent unit has no vital product data.
    if (device == nullptr)
        return result::invalid_field_in_cdb(2);
    bool supported = false;
    uint32_t length = build_vpd(page, *device, supported);
    if (!supported)
        return result::invalid_field_in_cdb(2);
    return send_data(command, {bounce_, length}, allocation_length);
}

} // namespace halcyon::vmm::storvsp
