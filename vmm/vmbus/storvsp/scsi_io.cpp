// READ(6/10/16), WRITE(6/10/16) and SYNCHRONIZE CACHE(10/16) (SBC-3 5.8-5.12, 5.22-5.23,
// 5.31-5.32). Data moves between the device and the guest through the bounce buffer, one piece
// at a time; a failing device gives MEDIUM ERROR with the first LBA of the failing piece.
#include "vmm/vmbus/storvsp/scsi_constants.hpp"
#include "vmm/vmbus/storvsp/scsi_target.hpp"
#include "vmm/vmbus/storvsp/wire.hpp"

namespace halcyon::vmm::storvsp {

using namespace scsi;

namespace {

constexpr uint8_t kFua = 0x08;
constexpr uint8_t kProtectField = 0xE0; // RDPROTECT/WRPROTECT: no protection information here

struct ReadWriteCdb {
    bool write;
    uint8_t flags;
    uint64_t lba;
    uint32_t count;
    uint8_t count_byte; // where TRANSFER LENGTH sits, for the sense field pointer
};

ReadWriteCdb decode(const uint8_t* cdb) {
    switch (cdb[0]) {
    case opcode::kRead6:
    case opcode::kWrite6: {
        // 21-bit LBA; a TRANSFER LENGTH of 0 means 256 blocks.
        uint32_t count = cdb[4] == 0 ? 256 : cdb[4];
        return {cdb[0] == opcode::kWrite6, 0,
                (uint64_t{cdb[1] & 0x1Fu} << 16) | wire::load_be16(&cdb[2]), count, 4};
    }
    case opcode::kRead10:
    case opcode::kWrite10:
        return {cdb[0] == opcode::kWrite10, cdb[1], wire::load_be32(&cdb[2]),
                wire::load_be16(&cdb[7]), 7};
    default:
        return {cdb[0] == opcode::kWrite16, cdb[1], wire::load_be64(&cdb[2]),
                wire::load_be32(&cdb[10]), 10};
    }
}

SenseData medium_error(Asc asc, uint64_t lba) {
    SenseData sense = SenseData::make(SenseKey::medium_error, asc);
    if (lba <= UINT32_MAX)
        sense.set_information(static_cast<uint32_t>(lba));
    return sense;
}

} // namespace

ScsiResult ScsiTarget::read_sectors(const ScsiCommand& command, BlockDevice& device, uint64_t lba,
                                    uint32_t count) {
    const uint32_t sector = device.logical_sector_size();
    const uint32_t per_piece = kBounceBytes / sector;
    uint32_t offset = 0;
    for (uint32_t done = 0; done < count;) {
        uint32_t sectors = count - done < per_piece ? count - done : per_piece;
        std::span<uint8_t> piece(bounce_, sectors * sector);
        if (device.read(lba + done, piece).is_error())
            return result::check_condition(medium_error(asc::kUnrecoveredReadError, lba + done));
        if (command.data->write(offset, piece).is_error())
            return result::invalid_request();
        done += sectors;
        offset += sectors * sector;
    }
    return result::good(offset);
}

ScsiResult ScsiTarget::write_sectors(const ScsiCommand& command, BlockDevice& device, uint64_t lba,
                                     uint32_t count, bool fua) {
    const uint32_t sector = device.logical_sector_size();
    const uint32_t per_piece = kBounceBytes / sector;
    uint32_t offset = 0;
    for (uint32_t done = 0; done < count;) {
        uint32_t sectors = count - done < per_piece ? count - done : per_piece;
        std::span<uint8_t> piece(bounce_, sectors * sector);
        if (command.data->read(offset, piece).is_error())
            return result::invalid_request();
        if (device.write(lba + done, piece).is_error())
            return result::check_condition(medium_error(asc::kWriteError, lba + done));
        done += sectors;
        offset += sectors * sector;
    }
    // FUA: the data must be on the medium before GOOD; the device's cache is flushed.
    if (fua && device.flush().is_error())
        return result::check_condition(medium_error(asc::kWriteError, lba));
    return result::good(offset);
}

ScsiResult ScsiTarget::read_write(const ScsiCommand& command, BlockDevice& device) {
    const ReadWriteCdb rw = decode(command.cdb);
    if (rw.flags & kProtectField)
        return result::invalid_field_in_cdb(1, 7);
    const uint64_t capacity = device.sector_count();
    // The LBA itself must exist even when nothing is transferred.
    if (rw.lba >= capacity || rw.count > capacity - rw.lba)
        return result::check_condition(SenseKey::illegal_request, asc::kLbaOutOfRange);
    if (rw.count == 0)
        return result::good();
    // The guest's buffer must hold the whole transfer (Linux always sends exactly that).
    const uint64_t bytes = uint64_t{rw.count} * device.logical_sector_size();
    const uint32_t buffer = command.data != nullptr ? command.data->size() : 0;
    if (bytes > buffer)
        return result::invalid_field_in_cdb(rw.count_byte);
    if (command.data_in != (rw.write ? protocol::kDataOut : protocol::kDataIn))
        return result::invalid_request();
    if (!rw.write)
        return read_sectors(command, device, rw.lba, rw.count);
    if (device.read_only())
        return result::check_condition(SenseKey::data_protect, asc::kWriteProtected);
    return write_sectors(command, device, rw.lba, rw.count, rw.flags & kFua);
}

ScsiResult ScsiTarget::synchronize_cache(const ScsiCommand& command, BlockDevice& device) {
    const uint8_t* cdb = command.cdb;
    const bool sixteen = cdb[0] == opcode::kSynchronizeCache16;
    const uint64_t lba = sixteen ? wire::load_be64(&cdb[2]) : wire::load_be32(&cdb[2]);
    const uint64_t count = sixteen ? wire::load_be32(&cdb[10]) : wire::load_be16(&cdb[7]);
    // A count of 0 means "to the last block"; the range still has to exist.
    const uint64_t capacity = device.sector_count();
    if (lba >= capacity || count > capacity - lba)
        return result::check_condition(SenseKey::illegal_request, asc::kLbaOutOfRange);
    // The whole cache is flushed whatever the range: a VHDX flush is all or nothing.
    if (!device.read_only() && device.flush().is_error())
        return result::check_condition(medium_error(asc::kWriteError, lba));
    return result::good();
}

} // namespace halcyon::vmm::storvsp
