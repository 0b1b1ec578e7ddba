// The seam between the VMBus host (vmm/vmbus: channel management, GPADLs, ring buffers) and the
// virtual service providers behind it (vmm/vmbus/storvsp, later netvsp and the integration
// services). A VSP sees packets already copied out of the guest's ring and validated, never the
// ring itself; it answers through a ChannelEndpoint and reaches guest memory only through
// GuestMemory, which checks every range against the VM's RAM. Pure interfaces: the same VSP
// code runs in the hypervisor and in host unit tests.
#pragma once

#include "lib/base/error_or.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::vmbus {

// A GUID in its wire byte order (the first three fields little-endian, as Windows stores it).
struct Guid {
    uint8_t bytes[16] = {};
    friend bool operator==(const Guid&, const Guid&) = default;
};

// Guest RAM as a VSP may touch it: every call validates [gpa, gpa + size) against the VM's
// memory and fails (touching nothing) when any byte is outside it.
class GuestMemory {
public:
    virtual ~GuestMemory() = default;
    [[nodiscard]] virtual ErrorOr<void> read(uint64_t gpa, std::span<uint8_t> out) = 0;
    [[nodiscard]] virtual ErrorOr<void> write(uint64_t gpa, std::span<const uint8_t> data) = 0;
};

// VMBus packet types (the descriptor's type field).
enum class PacketType : uint16_t {
    data_inband = 6,
    data_using_transfer_pages = 7,
    data_using_gpa_direct = 9,
    completion = 11,
};

// One range of a GPA-direct packet: byte_count bytes starting byte_offset into the first page
// of `page_numbers` (guest page frame numbers, 4 KiB pages).
struct GpaRange {
    uint32_t byte_count = 0;
    uint32_t byte_offset = 0;
    std::span<const uint64_t> page_numbers;
};

// A packet the guest wrote to a channel, copied out of the ring: a guest that changes its ring
// afterwards cannot change what the VSP sees. Spans stay valid during on_packet only.
struct IncomingPacket {
    PacketType type = PacketType::data_inband;
    bool completion_requested = false;
    uint64_t transaction_id = 0;
    std::span<const uint8_t> payload; // the bytes after the descriptor (and the range list)
    std::span<const GpaRange> ranges; // GPA-direct packets only
};

// How a VSP answers on one channel (the host-to-guest ring of that channel).
class ChannelEndpoint {
public:
    virtual ~ChannelEndpoint() = default;
    // Whether a packet with `payload_bytes` of payload fits in the ring now. A VSP that must
    // answer checks this before it takes a request (the host stops handing it packets while
    // the guest's ring is full and resumes when the guest frees space).
    [[nodiscard]] virtual bool can_send(uint32_t payload_bytes) const = 0;
    // A completion packet (type 11) for the guest's transaction id.
    [[nodiscard]] virtual ErrorOr<void> send_completion(uint64_t transaction_id,
                                                        std::span<const uint8_t> payload) = 0;
    // An in-band data packet (type 6), e.g. an unsolicited notification.
    [[nodiscard]] virtual ErrorOr<void> send_inband(uint64_t transaction_id,
                                                    std::span<const uint8_t> payload,
                                                    bool completion_requested) = 0;
};

// What the host announces in the channel offer.
struct OfferInfo {
    Guid interface_type;
    Guid instance;
    uint16_t max_subchannels = 0; // sub-channels the VSP can serve besides the primary one
    bool pipe_mode = false;
};

// A virtual service provider. All calls come from the VMBus host, serialized per device.
class ChannelDevice {
public:
    virtual ~ChannelDevice() = default;
    [[nodiscard]] virtual const OfferInfo& offer() const = 0;
    // The guest opened channel `subchannel` (0 = the primary channel).
    [[nodiscard]] virtual ErrorOr<void> on_open(uint16_t subchannel) = 0;
    virtual void on_close(uint16_t subchannel) = 0;
    // A packet from the guest. An error means the guest broke the VSP's protocol: the host logs
    // it and closes that channel (the guest hurts only itself) - except ErrorCode::busy, which
    // means "not taken, nothing consumed": the host hands the same packet again later (once the
    // guest frees room in the reply ring, or at the next poll).
    [[nodiscard]] virtual ErrorOr<void> on_packet(uint16_t subchannel, const IncomingPacket& packet,
                                                  ChannelEndpoint& reply, GuestMemory& memory) = 0;
};

// What a VSP may ask of the host outside a packet: more channels, or a rescind.
class ChannelHost {
public:
    virtual ~ChannelHost() = default;
    // Offers sub-channels 1..count of `device` (storvsc's CREATE_SUB_CHANNELS, netvsc's
    // SUBCHANNEL); fails if count exceeds offer().max_subchannels.
    [[nodiscard]] virtual ErrorOr<void> offer_subchannels(ChannelDevice& device,
                                                          uint16_t count) = 0;
    // The endpoint of an open channel, for packets a VSP sends outside on_packet (host-initiated
    // requests, notifications); nullptr when that channel is not open. Valid until its on_close.
    [[nodiscard]] virtual ChannelEndpoint* endpoint(ChannelDevice& device, uint16_t subchannel) = 0;
};

} // namespace halcyon::vmm::vmbus
