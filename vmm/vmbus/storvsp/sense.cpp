#include "vmm/vmbus/storvsp/sense.hpp"

#include "vmm/vmbus/storvsp/wire.hpp"

namespace halcyon::vmm::storvsp {
namespace {

constexpr uint8_t kResponseCodeCurrentFixed = 0x70;
constexpr uint8_t kValid = 0x80;
// Sense-key specific bytes 15..17.
constexpr uint8_t kSksv = 0x80;
constexpr uint8_t kCommandData = 0x40; // C/D: the field is in the CDB (else parameter data)
constexpr uint8_t kBitPointerValid = 0x08;

} // namespace

SenseData SenseData::make(scsi::SenseKey key, scsi::Asc asc) {
    SenseData sense;
    sense.bytes_[0] = kResponseCodeCurrentFixed;
    sense.bytes_[2] = static_cast<uint8_t>(key);
    // ADDITIONAL SENSE LENGTH: the bytes after byte 7.
    sense.bytes_[7] = kBytes - 8;
    sense.bytes_[12] = asc.code;
    sense.bytes_[13] = asc.qualifier;
    sense.length_ = kBytes;
    return sense;
}

SenseData SenseData::invalid_field_in_cdb(uint16_t byte, uint8_t bit) {
    SenseData sense = make(scsi::SenseKey::illegal_request, scsi::asc::kInvalidFieldInCdb);
    sense.bytes_[15] = kSksv | kCommandData;
    if (bit < 8)
        sense.bytes_[15] |= kBitPointerValid | bit;
    wire::store_be16(&sense.bytes_[16], byte);
    return sense;
}

SenseData SenseData::invalid_field_in_parameter_list(uint16_t byte) {
    SenseData sense =
        make(scsi::SenseKey::illegal_request, scsi::asc::kInvalidFieldInParameterList);
    sense.bytes_[15] = kSksv;
    wire::store_be16(&sense.bytes_[16], byte);
    return sense;
}

void SenseData::set_information(uint32_t information) {
    bytes_[0] |= kValid;
    wire::store_be32(&bytes_[3], information);
}

} // namespace halcyon::vmm::storvsp
