// Fixed-format sense data (SPC-4 4.5.3): the 18 bytes a CHECK CONDITION carries back in the
// SRB's sense area and REQUEST SENSE returns. Descriptor format is not supported (the target
// answers REQUEST SENSE with DESC=1 with INVALID FIELD IN CDB, as SPC-4 allows).
#pragma once

#include "vmm/vmbus/storvsp/scsi_constants.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::storvsp {

class SenseData {
public:
    static constexpr uint32_t kBytes = 18;

    // No sense data at all (a GOOD completion).
    constexpr SenseData() = default;
    // Current error, fixed format, with the key and additional sense code.
    [[nodiscard]] static SenseData make(scsi::SenseKey key, scsi::Asc asc);
    // ILLEGAL REQUEST / INVALID FIELD IN CDB with the sense-key specific field pointer naming
    // CDB byte `byte` (and bit `bit` when bit < 8), so the initiator sees which field was wrong.
    [[nodiscard]] static SenseData invalid_field_in_cdb(uint16_t byte, uint8_t bit = 0xFF);
    // ILLEGAL REQUEST / INVALID FIELD IN PARAMETER LIST, pointing at parameter byte `byte`.
    [[nodiscard]] static SenseData invalid_field_in_parameter_list(uint16_t byte);
    // Sets the INFORMATION field (e.g. the first LBA that failed) and the VALID bit.
    void set_information(uint32_t information);

    [[nodiscard]] bool present() const { return length_ != 0; }
    [[nodiscard]] std::span<const uint8_t> bytes() const { return {bytes_, length_}; }
    [[nodiscard]] scsi::SenseKey key() const {
        return static_cast<scsi::SenseKey>(bytes_[2] & 0xF);
    }
    [[nodiscard]] scsi::Asc asc() const { return {bytes_[12], bytes_[13]}; }

private:
    uint8_t bytes_[kBytes] = {};
    uint8_t length_ = 0;
};

} // namespace halcyon::vmm::storvsp
