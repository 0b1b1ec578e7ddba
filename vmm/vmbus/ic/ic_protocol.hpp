// The Hyper-V integration-component (IC) wire protocol as Linux's hv_utils (6.1) reads it: every
// packet is a VMBus in-band packet whose payload starts with an 8-byte pipe header, then the
// 20-byte IC message header (icmsg_hdr), then the service's message. The host asks, the guest
// answers in place: it flips the header flags to "response", sets a status and sends the same
// bytes back with the same VMBus transaction id. Layouts are written here from the published
// structure descriptions (Linux include/linux/hyperv.h, OpenVMM's hyperv_ic_protocol), as byte
// offsets read and written with the little-endian helpers below (packets need no alignment).
#pragma once

#include "vmm/vmbus/channel_device.hpp"

#include <array>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vmm::vmbus::ic {

// --- byte order (the protocol is Windows' little-endian in-memory layout) --------------------
[[nodiscard]] constexpr uint16_t load_le16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
[[nodiscard]] constexpr uint32_t load_le32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
           (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
[[nodiscard]] constexpr uint64_t load_le64(const uint8_t* p) {
    return static_cast<uint64_t>(load_le32(p)) | (static_cast<uint64_t>(load_le32(p + 4)) << 32);
}
constexpr void store_le16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v);
    p[1] = static_cast<uint8_t>(v >> 8);
}
constexpr void store_le32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        p[i] = static_cast<uint8_t>(v >> (8 * i));
}
constexpr void store_le64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; ++i)
        p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// A GUID from its textual fields (aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee), in wire byte order.
[[nodiscard]] constexpr Guid make_guid(uint32_t a, uint16_t b, uint16_t c,
                                       std::array<uint8_t, 8> rest) {
    Guid guid;
    for (int i = 0; i < 4; ++i)
        guid.bytes[i] = static_cast<uint8_t>(a >> (8 * i));
    guid.bytes[4] = static_cast<uint8_t>(b);
    guid.bytes[5] = static_cast<uint8_t>(b >> 8);
    guid.bytes[6] = static_cast<uint8_t>(c);
    guid.bytes[7] = static_cast<uint8_t>(c >> 8);
    for (int i = 0; i < 8; ++i)
        guid.bytes[8 + i] = rest[i];
    return guid;
}

// --- the four services Linux's hv_utils binds (interface ids) and Hyper-V's instance ids ------
inline constexpr Guid kShutdownInterface =
    make_guid(0x0e0b6031, 0x5213, 0x4934, {0x81, 0x8b, 0x38, 0xd9, 0x0c, 0xed, 0x39, 0xdb});
inline constexpr Guid kTimesyncInterface =
    make_guid(0x9527e630, 0xd0ae, 0x497b, {0xad, 0xce, 0xe8, 0x0a, 0xb0, 0x17, 0x5c, 0xaf});
inline constexpr Guid kHeartbeatInterface =
    make_guid(0x57164f39, 0x9115, 0x4e78, {0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d});
inline constexpr Guid kKvpInterface =
    make_guid(0xa9a0f4e7, 0x5a45, 0x4d96, {0xb8, 0x27, 0x8a, 0x84, 0x1e, 0x8c, 0x03, 0xe6});
// Hyper-V offers each IC with a fixed instance id; guests' tooling (lsvmbus output, Azure
// scripts unbinding timesync by id) knows them, so Halcyon uses the same ones by default.
inline constexpr Guid kShutdownInstance =
    make_guid(0xb6650ff7, 0x33bc, 0x4840, {0x80, 0x48, 0xe0, 0x67, 0x67, 0x86, 0xf3, 0x93});
inline constexpr Guid kTimesyncInstance =
    make_guid(0x2dd1ce17, 0x079e, 0x403c, {0xb3, 0x52, 0xa1, 0x92, 0x1e, 0xe2, 0x07, 0xee});
inline constexpr Guid kHeartbeatInstance =
    make_guid(0xfd149e91, 0x82e0, 0x4a7d, {0xaf, 0xa6, 0x2a, 0x41, 0x66, 0xcb, 0xd7, 0xc0});
inline constexpr Guid kKvpInstance =
    make_guid(0x242ff919, 0x07db, 0x4180, {0x9c, 0x2e, 0xb8, 0x6c, 0xb6, 0x8c, 0x8c, 0x55});

// --- versions -----------------------------------------------------------------------------
// An IC version: major.minor, on the wire as two u16 (major first).
struct Version {
    uint16_t major = 0;
    uint16_t minor = 0;
    friend constexpr bool operator==(const Version&, const Version&) = default;
};

// What Halcyon offers, newest first (the guest picks; the order is informational). Each list
// includes everything Linux 6.1's hv_utils knows (its fw_versions, sd_versions, ts_versions,
// hb_versions and kvp_versions), so Linux 6.1 chooses framework 3.0, shutdown 3.2, timesync 4.0,
// heartbeat 3.0 and KVP 4.0.
inline constexpr Version kFrameworkVersions[] = {{3, 0}, {1, 0}};
inline constexpr Version kShutdownVersions[] = {{3, 2}, {3, 1}, {3, 0}, {1, 0}};
inline constexpr Version kTimesyncVersions[] = {{4, 0}, {3, 0}, {1, 0}};
inline constexpr Version kHeartbeatVersions[] = {{3, 0}, {1, 0}};
// KVP 1.0 (Windows Server 2008) used other message layouts; Halcyon only speaks the Win7/Win8 ones.
inline constexpr Version kKvpVersions[] = {{4, 0}, {3, 0}};
// Linux refuses a NEGOTIATE listing more than this many versions of either kind.
inline constexpr uint16_t kMaxNegotiateVersions = 100;

// --- framing ------------------------------------------------------------------------------
// vmbuspipe_hdr: {u32 flags; u32 msgsize;}. Message-mode pipes write type 1 (data) and the byte
// count after the pipe header; Linux skips the pipe header without reading it.
inline constexpr uint32_t kPipeHeaderBytes = 8;
inline constexpr uint32_t kPipePacketTypeData = 1;
// icmsg_hdr, relative to the start of the payload (after the pipe header).
namespace hdr {
inline constexpr uint32_t kFrameworkMajor = 8;  // icverframe.major
inline constexpr uint32_t kFrameworkMinor = 10; // icverframe.minor
inline constexpr uint32_t kMessageType = 12;    // icmsgtype
inline constexpr uint32_t kMessageMajor = 14;   // icvermsg.major
inline constexpr uint32_t kMessageMinor = 16;   // icvermsg.minor
inline constexpr uint32_t kMessageSize = 18;    // icmsgsize: bytes of the message after the header
inline constexpr uint32_t kStatus = 20;         // HRESULT
inline constexpr uint32_t kTransactionId = 24;  // ictransaction_id (u8)
inline constexpr uint32_t kFlags = 25;          // icflags (u8)
} // namespace hdr
// ICMSG_HDR: pipe header + IC header; the service's message starts here.
inline constexpr uint32_t kIcHeaderBytes = 28;

enum class MessageType : uint16_t {
    negotiate = 0,
    heartbeat = 1,
    kvp_exchange = 2,
    shutdown = 3,
    timesync = 4,
};

inline constexpr uint8_t kFlagTransaction = 1;
inline constexpr uint8_t kFlagRequest = 2;
inline constexpr uint8_t kFlagResponse = 4;

// HRESULTs the guest puts in the header status.
inline constexpr uint32_t kStatusOk = 0;
inline constexpr uint32_t kStatusFail = 0x80004005;        // HV_E_FAIL
inline constexpr uint32_t kStatusNoMoreItems = 0x80070103; // HV_S_CONT: end of a KVP enumeration

// icmsg_negotiate: {u16 icframe_vercnt; u16 icmsg_vercnt; u32 reserved; ic_version data[];}
// with the framework versions first, then the message versions.
namespace negotiate {
inline constexpr uint32_t kFrameworkCount = 0;
inline constexpr uint32_t kMessageCount = 2;
inline constexpr uint32_t kVersions = 8;
inline constexpr uint32_t kVersionBytes = 4;
} // namespace negotiate

// Every packet the host sends is padded to a multiple of 8: the ring stores packets in 8-byte
// units and Linux answers with the padded length, so padded requests come back exactly as long.
[[nodiscard]] constexpr uint32_t padded_packet_bytes(uint32_t bytes) {
    return (bytes + 7) & ~7u;
}

// The largest packet any IC here sends (a KVP message) and therefore accepts back.
inline constexpr uint32_t kMaxIcPacketBytes = 2608;

} // namespace halcyon::vmm::vmbus::ic
