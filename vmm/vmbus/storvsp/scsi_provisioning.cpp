// Thin provisioning: UNMAP (SBC-3 5.28) and WRITE SAME(10/16) (SBC-3 5.41, 5.42). Offered only
// for devices with an unmap granularity (VPD B2h LBPU/LBPWS/LBPWS10, READ CAPACITY(16) LBPME);
// an UNMAP on a fully provisioned device is an unsupported command.
#include "vmm/vmbus/storvsp/scsi_constants.hpp"
#include "vmm/vmbus/storvsp/scsi_target.hpp"
#include "vmm/vmbus/storvsp/wire.hpp"

#include <string.h>

namespace halcyon::vmm::storvsp {

using namespace scsi;

namespace {

constexpr uint32_t kUnmapHeaderBytes = 8;
constexpr uint32_t kUnmapDescriptorBytes = 16;

ScsiResult parameter_list_length_error() {
    return result::check_condition(SenseKey::illegal_request, asc::kParameterListLengthError);
}

ScsiResult invalid_parameter(uint32_t byte) {
    return result::check_condition(
        SenseData::invalid_field_in_parameter_list(static_cast<uint16_t>(byte)));
}

ScsiResult write_error(uint64_t lba) {
    SenseData sense = SenseData::make(SenseKey::medium_error, asc::kWriteError);
    if (lba <= UINT32_MAX)
        sense.set_information(static_cast<uint32_t>(lba));
    return result::check_condition(sense);
}

bool all_zero(std::span<const uint8_t> bytes) {
    for (uint8_t b : bytes)
        if (b != 0)
            return false;
    return true;
}

} // namespace

ScsiResult ScsiTarget::unmap(const ScsiCommand& command, BlockDevice& device) {
    const uint8_t* cdb = command.cdb;
    if (device.unmap_granularity() == 0)
        return result::check_condition(SenseKey::illegal_request,
                                       asc::kInvalidCommandOperationCode);
    if (cdb[1] & 0x01) // ANCHOR: anchored blocks are not supported (ANC_SUP 0)
        return result::invalid_field_in_cdb(1, 0);
    const uint32_t parameter_length = wire::load_be16(&cdb[7]);
    if (parameter_length == 0)
        return result::good();
    if (parameter_length < kUnmapHeaderBytes)
        return parameter_list_length_error();
    if (command.data == nullptr || command.data->size() < parameter_length)
        return parameter_list_length_error();
    if (command.data_in != protocol::kDataOut)
        return result::invalid_request();
    if (device.read_only())
        return result::check_condition(SenseKey::data_protect, asc::kWriteProtected);

    uint8_t* list = bounce_;
    if (command.data->read(0, {list, kUnmapHeaderBytes}).is_error())
        return result::invalid_request();
    const uint32_t data_length = wire::load_be16(&list[0]);
    const uint32_t descriptor_length = wire::load_be16(&list[2]);
    if (descriptor_length > parameter_length - kUnmapHeaderBytes)
        return invalid_parameter(2);
    // UNMAP DATA LENGTH counts the bytes after itself: 6 header bytes plus the descriptors.
    if (data_length < descriptor_length + 6)
        return invalid_parameter(0);
    // A trailing partial descriptor is ignored (SBC-3 5.28.2).
    const uint32_t descriptors = descriptor_length / kUnmapDescriptorBytes;
    if (descriptors > kMaxUnmapDescriptors)
        return invalid_parameter(2);
    const uint32_t descriptor_bytes = descriptors * kUnmapDescriptorBytes;
    if (command.data->read(kUnmapHeaderBytes, {list + kUnmapHeaderBytes, descriptor_bytes})
            .is_error())
        return result::invalid_request();

    // Every descriptor is checked before anything is unmapped.
    const uint64_t capacity = device.sector_count();
    uint64_t total = 0;
    for (uint32_t i = 0; i < descriptors; ++i) {
        const uint8_t* d = list + kUnmapHeaderBytes + i * kUnmapDescriptorBytes;
        const uint64_t lba = wire::load_be64(d);
        const uint64_t count = wire::load_be32(d + 8);
        if (lba > capacity || count > capacity - lba)
            return result::check_condition(SenseKey::illegal_request, asc::kLbaOutOfRange);
        total += count;
        if (total > UINT32_MAX) // MAXIMUM UNMAP LBA COUNT
            return invalid_parameter(kUnmapHeaderBytes + i * kUnmapDescriptorBytes + 8);
    }
    for (uint32_t i = 0; i < descriptors; ++i) {
        const uint8_t* d = list + kUnmapHeaderBytes + i * kUnmapDescriptorBytes;
        const uint64_t lba = wire::load_be64(d);
        const uint64_t count = wire::load_be32(d + 8);
        if (count != 0 && device.unmap(lba, count).is_error())
            return write_error(lba);
    }
    return result::good(kUnmapHeaderBytes + descriptor_bytes);
}

ScsiResult ScsiTarget::write_same(const ScsiCommand& command, BlockDevice& device) {
    const uint8_t* cdb = command.cdb;
    const bool ten = cdb[0] == opcode::kWriteSame10;
    const uint8_t flags = cdb[1];
    if (flags & 0xE0) // WRPROTECT
        return result::invalid_field_in_cdb(1, 7);
    if (flags & 0x10) // ANCHOR
        return result::invalid_field_in_cdb(1, 4);
    if (flags & 0x06) // PBDATA/LBDATA (obsolete): per-block address patterns
        return result::invalid_field_in_cdb(1, 2);
    if (ten && (flags & 0x01)) // reserved in WRITE SAME(10)
        return result::invalid_field_in_cdb(1, 0);
    const bool may_unmap = flags & 0x08;
    const bool no_data_out = !ten && (flags & 0x01); // NDOB: the pattern is zeros
    const uint64_t lba = ten ? wire::load_be32(&cdb[2]) : wire::load_be64(&cdb[2]);
    const uint64_t count = ten ? wire::load_be16(&cdb[7]) : wire::load_be32(&cdb[10]);
    const uint8_t count_byte = ten ? 7 : 10;
    const uint32_t sector = device.logical_sector_size();

    // WSNZ is set: zero blocks ("to the end of the medium") is not accepted, and one command may
    // not cover more than MAXIMUM WRITE SAME LENGTH.
    if (count == 0 || count > kMaxWriteSameBytes / sector)
        return result::invalid_field_in_cdb(count_byte);
    const uint64_t capacity = device.sector_count();
    if (lba > capacity || count > capacity - lba)
        return result::check_condition(SenseKey::illegal_request, asc::kLbaOutOfRange);
    if (may_unmap && device.unmap_granularity() == 0)
        return result::invalid_field_in_cdb(1, 3);
    if (device.read_only())
        return result::check_condition(SenseKey::data_protect, asc::kWriteProtected);

    std::span<uint8_t> pattern(bounce_, sector);
    if (no_data_out) {
        memset(pattern.data(), 0, sector);
    } else {
        if (command.data == nullptr || command.data->size() < sector ||
            command.data_in != protocol::kDataOut)
            return result::invalid_request();
        if (command.data->read(0, pattern).is_error())
            return result::invalid_request();
    }
    const uint32_t transferred = no_data_out ? 0 : sector;

    if (all_zero(pattern)) {
        if (device.write_zeroes(lba, count, may_unmap).is_error())
            return write_error(lba);
        return result::good(transferred);
    }
    // A real pattern: replicate it across the bounce buffer and write piece by piece.
    const uint32_t per_piece = kBounceBytes / sector;
    for (uint32_t copy = 1; copy < per_piece; ++copy)
        memcpy(bounce_ + copy * sector, bounce_, sector);
    for (uint64_t done = 0; done < count;) {
        uint64_t sectors = count - done < per_piece ? count - done : per_piece;
        if (device.write(lba + done, {bounce_, static_cast<size_t>(sectors * sector)}).is_error())
            return write_error(lba + done);
        done += sectors;
    }
    return result::good(transferred);
}

} // namespace halcyon::vmm::storvsp
