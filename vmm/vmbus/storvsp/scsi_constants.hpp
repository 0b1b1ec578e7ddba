// SCSI constants from SPC-4 (primary commands), SBC-3 (block commands) and SAM-5 (status codes):
// the operation codes the target implements, status bytes, sense keys and the additional sense
// codes it reports.
#pragma once

#include <stdint.h>

namespace halcyon::vmm::storvsp::scsi {

namespace opcode {
inline constexpr uint8_t kTestUnitReady = 0x00;
inline constexpr uint8_t kRequestSense = 0x03;
inline constexpr uint8_t kRead6 = 0x08;
inline constexpr uint8_t kWrite6 = 0x0A;
inline constexpr uint8_t kInquiry = 0x12;
inline constexpr uint8_t kModeSense6 = 0x1A;
inline constexpr uint8_t kStartStopUnit = 0x1B;
inline constexpr uint8_t kPreventAllowMediumRemoval = 0x1E;
inline constexpr uint8_t kReadCapacity10 = 0x25;
inline constexpr uint8_t kRead10 = 0x28;
inline constexpr uint8_t kWrite10 = 0x2A;
inline constexpr uint8_t kSynchronizeCache10 = 0x35;
inline constexpr uint8_t kWriteSame10 = 0x41;
inline constexpr uint8_t kUnmap = 0x42;
inline constexpr uint8_t kModeSense10 = 0x5A;
inline constexpr uint8_t kRead16 = 0x88;
inline constexpr uint8_t kWrite16 = 0x8A;
inline constexpr uint8_t kSynchronizeCache16 = 0x91;
inline constexpr uint8_t kWriteSame16 = 0x93;
inline constexpr uint8_t kServiceActionIn16 = 0x9E;
inline constexpr uint8_t kReportLuns = 0xA0;
} // namespace opcode

// SERVICE ACTION IN(16) service actions.
inline constexpr uint8_t kServiceActionReadCapacity16 = 0x10;

// SAM-5 status codes.
namespace status {
inline constexpr uint8_t kGood = 0x00;
inline constexpr uint8_t kCheckCondition = 0x02;
} // namespace status

enum class SenseKey : uint8_t {
    no_sense = 0x0,
    not_ready = 0x2,
    medium_error = 0x3,
    hardware_error = 0x4,
    illegal_request = 0x5,
    unit_attention = 0x6,
    data_protect = 0x7,
    aborted_command = 0xB,
};

// An additional sense code and its qualifier.
struct Asc {
    uint8_t code;
    uint8_t qualifier;
    friend constexpr bool operator==(Asc, Asc) = default;
};

namespace asc {
inline constexpr Asc kNoAdditionalSense{0x00, 0x00};
inline constexpr Asc kWriteError{0x0C, 0x00};
inline constexpr Asc kUnrecoveredReadError{0x11, 0x00};
inline constexpr Asc kParameterListLengthError{0x1A, 0x00};
inline constexpr Asc kInvalidCommandOperationCode{0x20, 0x00};
inline constexpr Asc kLbaOutOfRange{0x21, 0x00};
inline constexpr Asc kInvalidFieldInCdb{0x24, 0x00};
inline constexpr Asc kLogicalUnitNotSupported{0x25, 0x00};
inline constexpr Asc kInvalidFieldInParameterList{0x26, 0x00};
inline constexpr Asc kWriteProtected{0x27, 0x00};
inline constexpr Asc kCapacityDataHasChanged{0x2A, 0x09};
inline constexpr Asc kSavingParametersNotSupported{0x39, 0x00};
inline constexpr Asc kReportedLunsDataHasChanged{0x3F, 0x0E};
} // namespace asc

// Peripheral device types and qualifiers (INQUIRY byte 0).
inline constexpr uint8_t kDirectAccessDevice = 0x00;
// Qualifier 011b + type 1Fh: "the device server is not capable of supporting a logical unit at
// this LUN" (what an absent LUN answers to INQUIRY).
inline constexpr uint8_t kLogicalUnitNotPresent = 0x7F;

// VPD page codes.
namespace vpd {
inline constexpr uint8_t kSupportedPages = 0x00;
inline constexpr uint8_t kUnitSerialNumber = 0x80;
inline constexpr uint8_t kDeviceIdentification = 0x83;
inline constexpr uint8_t kBlockLimits = 0xB0;
inline constexpr uint8_t kBlockDeviceCharacteristics = 0xB1;
inline constexpr uint8_t kLogicalBlockProvisioning = 0xB2;
} // namespace vpd

// Mode page codes.
namespace mode_page {
inline constexpr uint8_t kCaching = 0x08;
inline constexpr uint8_t kControl = 0x0A;
inline constexpr uint8_t kAllPages = 0x3F;
} // namespace mode_page

} // namespace halcyon::vmm::storvsp::scsi
