// The VMBus wire formats the host speaks: channel-management messages (carried in SynIC message
// payloads of at most 240 bytes), the ring-buffer control page and the packet descriptors.
// Written from the layouts a Linux 6.1 guest (hv_vmbus) uses; every structure is packed and its
// size pinned by a static_assert, because the guest compares message lengths against them.
// Values are little-endian on the wire, as on x86. Messages are copied into and out of these
// structures with memcpy, never by casting a pointer into guest-controlled memory.
#pragma once

#include <stdint.h>

namespace halcyon::vmm::vmbus::protocol {

// --- versions (major << 16 | minor) -----------------------------------------------------------
[[nodiscard]] constexpr uint32_t make_version(uint32_t major, uint32_t minor) {
    return major << 16 | minor;
}
inline constexpr uint32_t kVersionWin8 = make_version(2, 4);
inline constexpr uint32_t kVersionWin8_1 = make_version(3, 0);
inline constexpr uint32_t kVersionWin10 = make_version(4, 0);
inline constexpr uint32_t kVersionWin10V4_1 = make_version(4, 1);
inline constexpr uint32_t kVersionWin10V5 = make_version(5, 0);
inline constexpr uint32_t kVersionWin10V5_1 = make_version(5, 1);
inline constexpr uint32_t kVersionWin10V5_2 = make_version(5, 2);
inline constexpr uint32_t kVersionWin10V5_3 = make_version(5, 3);
// The versions this host accepts, newest first (what Linux 6.1 offers, less WS2008/Win7).
inline constexpr uint32_t kSupportedVersions[] = {
    kVersionWin10V5_3, kVersionWin10V5_2, kVersionWin10V5_1, kVersionWin10V5,
    kVersionWin10V4_1, kVersionWin10,     kVersionWin8_1,    kVersionWin8,
};

// --- connection ids, SINT, SynIC message type ----------------------------------------------
inline constexpr uint32_t kMessageConnectionId = 1;
// From 5.0 on the guest sends INITIATE_CONTACT here and then uses the id the host answers.
inline constexpr uint32_t kMulticlientMessageConnectionId = 4;
inline constexpr uint8_t kMessageSint = 2;
inline constexpr uint32_t kHvMessageTypeVmbus = 1;
// Channel event connection ids: relid | SINT << 12, as Hyper-V forms them; never 1 or 4.
inline constexpr uint32_t kChannelConnectionIdBase = uint32_t{kMessageSint} << 12;

inline constexpr uint32_t kMaxMessageBytes = 240;
inline constexpr uint32_t kStatusSuccess = 0;
inline constexpr uint32_t kStatusUnsuccessful = 0xC0000001;

enum class MessageType : uint32_t {
    invalid = 0,
    offer_channel = 1,
    rescind_channel_offer = 2,
    request_offers = 3,
    all_offers_delivered = 4,
    open_channel = 5,
    open_channel_result = 6,
    close_channel = 7,
    gpadl_header = 8,
    gpadl_body = 9,
    gpadl_created = 10,
    gpadl_teardown = 11,
    gpadl_torndown = 12,
    relid_released = 13,
    initiate_contact = 14,
    version_response = 15,
    unload = 16,
    unload_response = 17,
    tl_connect_request = 21,
    modify_channel = 22,
    tl_connect_result = 23,
    modify_channel_response = 24,
};

// Offer flags (chn_flags) and the pipe mode in the user-defined area of pipe offers.
inline constexpr uint16_t kOfferFlagNamedPipeMode = 0x10;
inline constexpr uint32_t kPipeTypeMessage = 4;
inline constexpr uint32_t kUserDefinedBytes = 120;

#pragma pack(push, 1)

struct MessageHeader {
    uint32_t type = 0;
    uint32_t padding = 0;
};
static_assert(sizeof(MessageHeader) == 8);

struct HeaderOnlyMessage { // REQUEST_OFFERS, ALL_OFFERS_DELIVERED, UNLOAD, UNLOAD_RESPONSE
    MessageHeader header;
};
static_assert(sizeof(HeaderOnlyMessage) == 8);

struct InitiateContact {
    MessageHeader header;
    uint32_t version_requested;
    uint32_t target_vcpu;                   // where the host posts its messages (from 3.0 on)
    uint64_t interrupt_page_or_target_info; // < 5.0: interrupt page; >= 5.0: byte 0 = SINT
    uint64_t monitor_page1;
    uint64_t monitor_page2;
};
static_assert(sizeof(InitiateContact) == 40);

struct VersionResponse {
    MessageHeader header;
    uint8_t version_supported;
    uint8_t connection_state; // 0 = successful
    uint16_t padding;
    // >= 5.0: the message connection id the guest must use from now on; before: the version.
    uint32_t selected_version_or_connection_id;
};
static_assert(sizeof(VersionResponse) == 16);

struct OfferChannel {
    MessageHeader header;
    uint8_t interface_type[16];
    uint8_t interface_instance[16];
    uint64_t reserved1;
    uint64_t reserved2;
    uint16_t flags;
    uint16_t mmio_megabytes;
    uint8_t user_defined[kUserDefinedBytes]; // pipes: u32 pipe mode, then 116 bytes
    uint16_t subchannel_index;
    uint16_t reserved3;
    uint32_t child_relid;
    uint8_t monitor_id;
    uint8_t monitor_allocated;       // bit 0; 0 = the guest signals with HvSignalEvent
    uint16_t is_dedicated_interrupt; // bit 0
    uint32_t connection_id;
};
static_assert(sizeof(OfferChannel) == 196);

struct RelidMessage { // RESCIND_CHANNEL_OFFER, CLOSE_CHANNEL, RELID_RELEASED
    MessageHeader header;
    uint32_t child_relid;
};
static_assert(sizeof(RelidMessage) == 12);

struct OpenChannel {
    MessageHeader header;
    uint32_t child_relid;
    uint32_t open_id;
    uint32_t ring_gpadl;
    uint32_t target_vp;
    uint32_t downstream_ring_page_offset; // host->guest ring starts here, in pages
    uint8_t user_data[kUserDefinedBytes];
};
static_assert(sizeof(OpenChannel) == 148);

struct OpenResult {
    MessageHeader header;
    uint32_t child_relid;
    uint32_t open_id;
    uint32_t status;
};
static_assert(sizeof(OpenResult) == 20);

struct GpadlHeader {
    MessageHeader header;
    uint32_t child_relid;
    uint32_t gpadl;
    uint16_t range_buffer_bytes; // all ranges: {byte_count, byte_offset, pfn[]}...
    uint16_t range_count;
    // range bytes follow (the rest in GPADL_BODY messages)
};
static_assert(sizeof(GpadlHeader) == 20);

struct GpadlBody {
    MessageHeader header;
    uint32_t message_number; // Linux leaves it 0: not checked
    uint32_t gpadl;
    // pfns follow
};
static_assert(sizeof(GpadlBody) == 16);

struct GpadlCreated {
    MessageHeader header;
    uint32_t child_relid;
    uint32_t gpadl;
    uint32_t status;
};
static_assert(sizeof(GpadlCreated) == 20);

struct GpadlTeardown {
    MessageHeader header;
    uint32_t child_relid;
    uint32_t gpadl;
};
static_assert(sizeof(GpadlTeardown) == 16);

struct GpadlTorndown {
    MessageHeader header;
    uint32_t gpadl;
};
static_assert(sizeof(GpadlTorndown) == 12);

struct ModifyChannel {
    MessageHeader header;
    uint32_t child_relid;
    uint32_t target_vp;
};
static_assert(sizeof(ModifyChannel) == 16);

struct ModifyChannelResponse {
    MessageHeader header;
    uint32_t child_relid;
    uint32_t status;
};
static_assert(sizeof(ModifyChannelResponse) == 16);

// --- ring buffers ---------------------------------------------------------------------------
// Each direction is a 4 KiB control page followed by the data area; indices are byte offsets
// into the data area. The writer owns write_index (and pending_send_size, feature_bits); the
// reader owns read_index and interrupt_mask.
inline constexpr uint32_t kRingControlBytes = 4096;
inline constexpr uint32_t kRingWriteIndex = 0;
inline constexpr uint32_t kRingReadIndex = 4;
inline constexpr uint32_t kRingInterruptMask = 8;
inline constexpr uint32_t kRingPendingSendSize = 12;
inline constexpr uint32_t kRingFeatureBits = 64;
inline constexpr uint32_t kRingFeaturePendingSendSize = 1;

enum class WirePacketType : uint16_t {
    data_inband = 6,
    data_using_transfer_pages = 7,
    data_using_gpa_direct = 9,
    completion = 11,
};
inline constexpr uint16_t kPacketFlagCompletionRequested = 1;
inline constexpr uint32_t kPacketTrailerBytes = 8; // u64: the packet's start index << 32

struct PacketDescriptor {
    uint16_t type;
    uint16_t offset8; // payload start, in 8-byte units from the descriptor
    uint16_t len8;    // packet length without the trailer, in 8-byte units
    uint16_t flags;
    uint64_t transaction_id;
};
static_assert(sizeof(PacketDescriptor) == 16);

struct GpaDirectHeader { // follows the descriptor of a GPA-direct packet
    uint32_t reserved;
    uint32_t range_count;
};
static_assert(sizeof(GpaDirectHeader) == 8);

struct GpaRangeHeader { // followed by ceil((byte_offset + byte_count) / 4096) pfns
    uint32_t byte_count;
    uint32_t byte_offset;
};
static_assert(sizeof(GpaRangeHeader) == 8);

#pragma pack(pop)

inline constexpr uint32_t kPageSize = 4096;
inline constexpr uint32_t kPageShift = 12;

} // namespace halcyon::vmm::vmbus::protocol
