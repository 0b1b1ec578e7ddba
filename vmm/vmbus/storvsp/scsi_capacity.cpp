// READ CAPACITY(10) and READ CAPACITY(16) (SBC-3 5.15, 5.16).
#include "vmm/vmbus/storvsp/scsi_constants.hpp"
#include "vmm/vmbus/storvsp/scsi_target.hpp"
#include "vmm/vmbus/storvsp/wire.hpp"

#include <string.h>

namespace halcyon::vmm::storvsp {

namespace {

constexpr uint32_t kCapacity10Bytes = 8;
constexpr uint32_t kCapacity16Bytes = 32;

uint8_t log2_of(uint32_t power_of_two) {
    uint8_t shift = 0;
    while ((1u << shift) < power_of_two)
        ++shift;
    return shift;
}

} // namespace

ScsiResult ScsiTarget::read_capacity10(const ScsiCommand& command, BlockDevice& device) {
    const uint8_t* cdb = command.cdb;
    // PMI=0 requires LOGICAL BLOCK ADDRESS 0 (SBC-3: otherwise INVALID FIELD IN CDB).
    if ((cdb[8] & 0x01) == 0 && wire::load_be32(&cdb[2]) != 0)
        return result::invalid_field_in_cdb(2);
    uint8_t data[kCapacity10Bytes];
    const uint64_t last_lba = device.sector_count() - 1;
    // A capacity past 32 bits reads FFFFFFFFh: the initiator must use READ CAPACITY(16).
    wire::store_be32(&data[0],
                     last_lba > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(last_lba));
    wire::store_be32(&data[4], device.logical_sector_size());
    return send_data(command, data, kCapacity10Bytes);
}

ScsiResult ScsiTarget::read_capacity16(const ScsiCommand& command, BlockDevice& device) {
    const uint8_t* cdb = command.cdb;
    if ((cdb[14] & 0x01) == 0 && wire::load_be64(&cdb[2]) != 0)
        return result::invalid_field_in_cdb(2);
    const uint32_t allocation_length = wire::load_be32(&cdb[10]);
    uint8_t data[kCapacity16Bytes];
    memset(data, 0, sizeof(data));
    wire::store_be64(&data[0], device.sector_count() - 1);
    wire::store_be32(&data[8], device.logical_sector_size());
    // Byte 12: no protection information. Byte 13: LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT
    // (512-byte logical over 4096-byte physical sectors: 3), so the guest aligns its I/O.
    data[13] = log2_of(device.physical_sector_size() / device.logical_sector_size());
    // Byte 14: LBPME (thin provisioning: UNMAP works) and LBPRZ (unmapped blocks read zero);
    // lowest aligned LBA 0.
    if (device.unmap_granularity() != 0)
        data[14] = 0x80 | 0x40;
    return send_data(command, data, allocation_length);
}

} // namespace halcyon::vmm::storvsp
