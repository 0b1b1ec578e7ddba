// Linux 6.1's VMBus structures (include/linux/hyperv.h) as a guest lays them out, written here
// independently of the host's vmbus_protocol.hpp so that a layout mistake on either side shows
// in the tests. Field names follow Linux's.
#pragma once

#include <stdint.h>

namespace vmbus_test {

namespace linux_abi {
#pragma pack(push, 1)
struct message_header {
    uint32_t msgtype;
    uint32_t padding;
};
struct initiate_contact {
    message_header header;
    uint32_t vmbus_version_requested;
    uint32_t target_vcpu;
    uint8_t msg_sint; // union with the 64-bit interrupt_page before 5.0
    uint8_t padding1[3];
    uint32_t padding2;
    uint64_t monitor_page1;
    uint64_t monitor_page2;
};
struct version_response {
    message_header header;
    uint8_t version_supported;
    uint8_t connection_state;
    uint16_t padding;
    uint32_t msg_conn_id;
};
struct offer_channel {
    message_header header;
    uint8_t if_type[16];
    uint8_t if_instance[16];
    uint64_t reserved1;
    uint64_t reserved2;
    uint16_t chn_flags;
    uint16_t mmio_megabytes;
    uint8_t user_def[120];
    uint16_t sub_channel_index;
    uint16_t reserved3;
    uint32_t child_relid;
    uint8_t monitorid;
    uint8_t monitor_allocated;       // bit 0
    uint16_t is_dedicated_interrupt; // bit 0
    uint32_t connection_id;
};
struct relid_only {
    message_header header;
    uint32_t child_relid;
};
struct open_channel {
    message_header header;
    uint32_t child_relid;
    uint32_t openid;
    uint32_t ringbuffer_gpadlhandle;
    uint32_t target_vp;
    uint32_t downstream_ringbuffer_pageoffset;
    uint8_t userdata[120];
};
struct open_result {
    message_header header;
    uint32_t child_relid;
    uint32_t openid;
    uint32_t status;
};
struct gpadl_header {
    message_header header;
    uint32_t child_relid;
    uint32_t gpadl;
    uint16_t range_buflen;
    uint16_t rangecount;
};
struct gpadl_body {
    message_header header;
    uint32_t msgnumber;
    uint32_t gpadl;
};
struct gpadl_created {
    message_header header;
    uint32_t child_relid;
    uint32_t gpadl;
    uint32_t creation_status;
};
struct gpadl_teardown {
    message_header header;
    uint32_t child_relid;
    uint32_t gpadl;
};
struct gpadl_torndown {
    message_header header;
    uint32_t gpadl;
};
struct modifychannel {
    message_header header;
    uint32_t child_relid;
    uint32_t target_vp;
};
struct modifychannel_response {
    message_header header;
    uint32_t child_relid;
    uint32_t status;
};
struct vmpacket_descriptor {
    uint16_t type;
    uint16_t offset8;
    uint16_t len8;
    uint16_t flags;
    uint64_t trans_id;
};
#pragma pack(pop)
static_assert(sizeof(initiate_contact) == 40 && sizeof(version_response) == 16);
static_assert(sizeof(offer_channel) == 196 && sizeof(open_channel) == 148);
static_assert(sizeof(gpadl_header) == 20 && sizeof(gpadl_body) == 16);

enum : uint32_t {
    OFFERCHANNEL = 1,
    RESCIND_CHANNELOFFER = 2,
    REQUESTOFFERS = 3,
    ALLOFFERS_DELIVERED = 4,
    OPENCHANNEL = 5,
    OPENCHANNEL_RESULT = 6,
    CLOSECHANNEL = 7,
    GPADL_HEADER = 8,
    GPADL_BODY = 9,
    GPADL_CREATED = 10,
    GPADL_TEARDOWN = 11,
    GPADL_TORNDOWN = 12,
    RELID_RELEASED = 13,
    INITIATE_CONTACT = 14,
    VERSION_RESPONSE = 15,
    UNLOAD = 16,
    UNLOAD_RESPONSE = 17,
    MODIFYCHANNEL = 22,
    MODIFYCHANNEL_RESPONSE = 24,
};
constexpr uint32_t version(uint32_t major, uint32_t minor) {
    return major << 16 | minor;
}
// connection.c's vmbus_versions[], newest first.
inline constexpr uint32_t kLinuxVersions[] = {version(5, 3), version(5, 2), version(5, 1),
                                              version(5, 0), version(4, 1), version(4, 0),
                                              version(3, 0), version(2, 4)};
inline constexpr uint32_t kMaxSizeChannelMessage = 240;
} // namespace linux_abi

} // namespace vmbus_test
