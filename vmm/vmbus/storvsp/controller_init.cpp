// The vstor initialization handshake on the primary channel, as storvsc_channel_init() drives
// it: BEGIN_INITIALIZATION -> QUERY_PROTOCOL_VERSION* -> QUERY_PROPERTIES ->
// [CREATE_SUB_CHANNELS] -> END_INITIALIZATION. Linux sends CREATE_SUB_CHANNELS after
// END_INITIALIZATION (handled in the ready state); Windows may send it before.
#include "vmm/vmbus/storvsp/controller.hpp"
#include "vmm/vmbus/storvsp/protocol.hpp"
#include "vmm/vmbus/storvsp/wire.hpp"

namespace halcyon::vmm::storvsp {

using namespace protocol;

ErrorOr<void> Controller::send_properties(const vmbus::IncomingPacket& packet,
                                          vmbus::ChannelEndpoint& reply) {
    uint8_t body[properties::kBytes] = {};
    const bool multi = supports_multi_channel(version_) && offer_.max_subchannels != 0;
    wire::store_le16(&body[properties::kMaxChannelCount], multi ? offer_.max_subchannels : 0);
    wire::store_le32(&body[properties::kFlags], multi ? properties::kFlagMultiChannel : 0);
    wire::store_le32(&body[properties::kMaxTransferBytes], max_transfer_bytes_);
    return complete(packet, reply, nt_status::kSuccess, body);
}

ErrorOr<void> Controller::create_sub_channels(const vmbus::IncomingPacket& packet,
                                              vmbus::ChannelEndpoint& reply) {
    if (packet.payload.size() < kHeaderBytes + kSubChannelPayloadBytes)
        return Error(ErrorCode::invalid_argument, "storvsp: CREATE_SUB_CHANNELS too short");
    if (!supports_multi_channel(version_))
        return complete(packet, reply, nt_status::kInvalidDeviceState);
    const uint16_t count = wire::load_le16(&packet.payload[kHeaderBytes]);
    if (count == 0 || count > offer_.max_subchannels)
        return complete(packet, reply, nt_status::kInvalidParameter);
    // Asking again for no more than exist already is a no-op success.
    if (count > subchannels_offered_) {
        if (host_.offer_subchannels(*this, count).is_error())
            return complete(packet, reply, nt_status::kUnsuccessful);
        subchannels_offered_ = count;
    }
    return complete(packet, reply, nt_status::kSuccess);
}

ErrorOr<void> Controller::handle_initialization(uint32_t operation,
                                                const vmbus::IncomingPacket& packet,
                                                vmbus::ChannelEndpoint& reply) {
    const auto op = static_cast<Operation>(operation);
    switch (state_) {
    case State::waiting_begin:
        if (op != Operation::begin_initialization)
            break;
        state_ = State::waiting_version;
        return complete(packet, reply, nt_status::kSuccess);
    case State::waiting_version: {
        if (op != Operation::query_protocol_version)
            break;
        if (packet.payload.size() < kHeaderBytes + kVersionPayloadBytes)
            return Error(ErrorCode::invalid_argument, "storvsp: QUERY_PROTOCOL_VERSION too short");
        // The reply echoes the version asked for, accepted or not.
        const uint8_t* asked = &packet.payload[kHeaderBytes];
        const uint16_t major_minor = wire::load_le16(asked);
        uint8_t body[kVersionPayloadBytes] = {asked[0], asked[1], 0, 0};
        if (!is_supported_version(major_minor))
            return complete(packet, reply, nt_status::kRevisionMismatch, body);
        version_ = major_minor;
        state_ = State::waiting_properties;
        return complete(packet, reply, nt_status::kSuccess, body);
    }
    case State::waiting_properties:
        if (op != Operation::query_properties)
            break;
        state_ = State::waiting_end;
        return send_properties(packet, reply);
    case State::waiting_end:
        if (op == Operation::create_sub_channels)
            return create_sub_channels(packet, reply);
        if (op != Operation::end_initialization)
            break;
        state_ = State::ready;
        // The guest scans the bus now: an earlier change needs no notification.
        notify_pending_ = false;
        return complete(packet, reply, nt_status::kSuccess);
    case State::closed:
    case State::ready:
        break;
    }
    // A known operation out of order: refused, the channel stays usable.
    return complete(packet, reply, nt_status::kInvalidDeviceState);
}

} // namespace halcyon::vmm::storvsp
