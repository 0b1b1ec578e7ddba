// The vstor protocol: what Linux's hv_storvsc (drivers/scsi/storvsc_drv.c) and Windows'
// storvsc exchange with the storage VSP over a VMBus channel. Learned from the Linux driver and
// OpenVMM's storvsp_protocol crate; the layouts below are our own descriptions of the wire
// format (little-endian, packed).
//
// Every packet starts with a 12-byte header {operation u32, flags u32, status u32}; the rest is
// the operation's payload in a 0x34-byte union (the largest member is the SCSI request block,
// "SRB", in its Windows 8 form). Guests send the whole union (Linux: sizeof(struct vstor_packet)
// = 64 bytes) and Linux rejects completions shorter than that, so replies are always padded to
// header + the SRB size of the negotiated version.
#pragma once

#include "vmm/vmbus/channel_device.hpp"

#include <stdint.h>

namespace halcyon::vmm::storvsp::protocol {

// The VMBus interface type of a synthetic SCSI controller (Linux HV_SCSI_GUID,
// ba6163d9-04a1-4d29-b605-72e2ffb1dc7f) in wire byte order.
inline constexpr vmbus::Guid kScsiInterfaceType{{0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d,
                                                 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f}};

enum class Operation : uint32_t {
    complete_io = 1,
    remove_device = 2,
    execute_srb = 3,
    reset_lun = 4,
    reset_adapter = 5,
    reset_bus = 6,
    begin_initialization = 7,
    end_initialization = 8,
    query_protocol_version = 9,
    query_properties = 10,
    enumerate_bus = 11,
    fc_hba_data = 12,
    create_sub_channels = 13,
};

// NTSTATUS values in the header's status field of replies.
namespace nt_status {
inline constexpr uint32_t kSuccess = 0x0000'0000;
inline constexpr uint32_t kUnsuccessful = 0xC000'0001;
inline constexpr uint32_t kInvalidParameter = 0xC000'000D;
inline constexpr uint32_t kInvalidDeviceRequest = 0xC000'0010;
inline constexpr uint32_t kRevisionMismatch = 0xC000'0059;
inline constexpr uint32_t kDeviceDoesNotExist = 0xC000'00C0;
inline constexpr uint32_t kInvalidDeviceState = 0xC000'0184;
inline constexpr uint32_t kIoDeviceError = 0xC000'0185;
} // namespace nt_status

// Protocol versions: major in the high byte, minor in the low byte.
[[nodiscard]] constexpr uint16_t version(uint8_t major, uint8_t minor) {
    return static_cast<uint16_t>((major << 8) | minor);
}
inline constexpr uint16_t kVersionWin6 = version(2, 0);
inline constexpr uint16_t kVersionWin7 = version(4, 2);
inline constexpr uint16_t kVersionWin8 = version(5, 1);
inline constexpr uint16_t kVersionWin8_1 = version(6, 0);
inline constexpr uint16_t kVersionWin10 = version(6, 2);

inline constexpr uint32_t kHeaderBytes = 12;
// The SRB before Windows 8 and with the Windows 8 extension (reserve, queue tag/action, SRB
// flags, timeout, queue sort key: 16 more bytes).
inline constexpr uint32_t kSrbBytesV1 = 0x24;
inline constexpr uint32_t kSrbBytesV2 = 0x34;
inline constexpr uint32_t kMaxPacketBytes = kHeaderBytes + kSrbBytesV2;
// Sense bytes an SRB can carry back (the CDB/sense union is 0x14 bytes; before Windows 8 the
// guest's sense buffer was 0x12).
inline constexpr uint32_t kSenseBytesV1 = 0x12;
inline constexpr uint32_t kSenseBytesV2 = 0x14;
inline constexpr uint32_t kMaxCdbBytes = 16;

// Whether `v` is a version this VSP speaks (every version Linux 6.1 offers — 6.2, 6.0, 5.1 — and
// the two older Windows ones, which use the short SRB).
[[nodiscard]] constexpr bool is_supported_version(uint16_t v) {
    return v == kVersionWin10 || v == kVersionWin8_1 || v == kVersionWin8 || v == kVersionWin7 ||
           v == kVersionWin6;
}
[[nodiscard]] constexpr uint32_t srb_bytes(uint16_t v) {
    return v >= kVersionWin8 ? kSrbBytesV2 : kSrbBytesV1;
}
[[nodiscard]] constexpr uint32_t sense_bytes(uint16_t v) {
    return v >= kVersionWin8 ? kSenseBytesV2 : kSenseBytesV1;
}
// Sub-channels (multi-queue) exist from Windows 8 on.
[[nodiscard]] constexpr bool supports_multi_channel(uint16_t v) {
    return v >= kVersionWin8;
}

// Byte offsets inside the packet (header first, then the union).
namespace offset {
inline constexpr uint32_t kOperation = 0;
inline constexpr uint32_t kFlags = 4;
inline constexpr uint32_t kStatus = 8;
inline constexpr uint32_t kPayload = 12;
} // namespace offset

// Byte offsets inside the SRB.
namespace srb {
inline constexpr uint32_t kLength = 0;     // u16
inline constexpr uint32_t kSrbStatus = 2;  // u8
inline constexpr uint32_t kScsiStatus = 3; // u8
inline constexpr uint32_t kPortNumber = 4; // u8
inline constexpr uint32_t kPathId = 5;     // u8
inline constexpr uint32_t kTargetId = 6;   // u8
inline constexpr uint32_t kLun = 7;        // u8
inline constexpr uint32_t kCdbLength = 8;  // u8
inline constexpr uint32_t kSenseInfoLength = 9;
inline constexpr uint32_t kDataIn = 10;         // u8: 0 write, 1 read, 2 no data
inline constexpr uint32_t kTransferLength = 12; // u32
inline constexpr uint32_t kCdbOrSense = 16;     // 0x14 bytes: the CDB in, the sense data out
inline constexpr uint32_t kSrbFlags = 0x28;     // u32, Windows 8 extension only
} // namespace srb

// SRB status (low 6 bits) and its flags.
namespace srb_status {
inline constexpr uint8_t kSuccess = 0x01;
inline constexpr uint8_t kAborted = 0x02;
inline constexpr uint8_t kError = 0x04;
inline constexpr uint8_t kInvalidRequest = 0x06;
inline constexpr uint8_t kInvalidLun = 0x20;
inline constexpr uint8_t kQueueFrozen = 0x40;
inline constexpr uint8_t kAutosenseValid = 0x80;
} // namespace srb_status

// The SRB's data_in field.
inline constexpr uint8_t kDataOut = 0; // guest -> device (WRITE_TYPE)
inline constexpr uint8_t kDataIn = 1;  // device -> guest (READ_TYPE)
inline constexpr uint8_t kNoData = 2;  // UNKNOWN_TYPE

// QUERY_PROPERTIES reply: {reserved u32, max_channel_count u16, reserved u16, flags u32,
// max_transfer_bytes u32, reserved u64}.
namespace properties {
inline constexpr uint32_t kMaxChannelCount = 4;
inline constexpr uint32_t kFlags = 8;
inline constexpr uint32_t kMaxTransferBytes = 12;
inline constexpr uint32_t kBytes = 24;
inline constexpr uint32_t kFlagMultiChannel = 0x1;
} // namespace properties

// QUERY_PROTOCOL_VERSION payload: {major_minor u16, revision u16}; CREATE_SUB_CHANNELS payload:
// {count u16}.
inline constexpr uint32_t kVersionPayloadBytes = 4;
inline constexpr uint32_t kSubChannelPayloadBytes = 2;

} // namespace halcyon::vmm::storvsp::protocol
