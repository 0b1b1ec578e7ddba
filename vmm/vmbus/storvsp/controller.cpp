// Packet intake, SRB execution and completion, channels, disks and notifications.
#include "vmm/vmbus/storvsp/controller.hpp"

#include "vmm/vmbus/storvsp/guest_buffer.hpp"
#include "vmm/vmbus/storvsp/protocol.hpp"
#include "vmm/vmbus/storvsp/wire.hpp"

#include <string.h>

namespace halcyon::vmm::storvsp {

using namespace protocol;

namespace {

constexpr uint32_t kLastOperation = static_cast<uint32_t>(Operation::create_sub_channels);
// SRB_FLAGS_DISABLE_AUTOSENSE: the guest does not want sense data with the completion.
constexpr uint32_t kSrbFlagDisableAutosense = 0x20;

uint32_t clamp_transfer(uint32_t bytes) {
    bytes -= bytes % kGuestPageBytes;
    return bytes < kGuestPageBytes ? kGuestPageBytes : bytes;
}

// What the completion's NTSTATUS says for an SRB status (the guest mostly looks at the SRB).
uint32_t nt_status_for(uint8_t srb) {
    switch (srb) {
    case srb_status::kSuccess:
        return nt_status::kSuccess;
    case srb_status::kInvalidLun:
        return nt_status::kDeviceDoesNotExist;
    default:
        return nt_status::kIoDeviceError;
    }
}

} // namespace

Controller::Controller(vmbus::ChannelHost& host, const ControllerConfig& config)
    : host_(host), max_transfer_bytes_(clamp_transfer(config.max_transfer_bytes)),
      target_(max_transfer_bytes_) {
    offer_.interface_type = kScsiInterfaceType;
    offer_.instance = config.instance;
    offer_.max_subchannels = config.max_subchannels;
    offer_.pipe_mode = false;
}

// ---------------------------------------------------------------------------------------------
// Disks and notifications

void Controller::raise_notification() {
    if (state_ == State::ready)
        notify_pending_ = true;
}

ErrorOr<void> Controller::attach(uint8_t lun, BlockDevice& device) {
    TRY(target_.attach(lun, device));
    raise_notification();
    return {};
}

ErrorOr<void> Controller::detach(uint8_t lun) {
    TRY(target_.detach(lun));
    raise_notification();
    return {};
}

ErrorOr<void> Controller::resize(uint8_t lun, uint64_t new_size_bytes) {
    BlockDevice* device = target_.device(lun);
    if (device == nullptr)
        return Error(ErrorCode::not_found, "storvsp: no disk at that LUN");
    const uint32_t sector = device->logical_sector_size();
    if (new_size_bytes == 0 || new_size_bytes % sector != 0)
        return Error(ErrorCode::invalid_argument,
                     "storvsp: new size is not a whole number of sectors");
    TRY(device->resize(new_size_bytes / sector));
    return capacity_changed(lun);
}

ErrorOr<void> Controller::capacity_changed(uint8_t lun) {
    TRY(target_.capacity_changed(lun));
    // Linux answers ENUMERATE_BUS with TEST UNIT READY to every disk; the disk's unit attention
    // then makes it re-read the capacity at once instead of at its next I/O.
    raise_notification();
    return {};
}

ErrorOr<void> Controller::deliver_notifications(vmbus::ChannelEndpoint& primary) {
    if (!notify_pending_)
        return {};
    if (state_ != State::ready) {
        notify_pending_ = false;
        return {};
    }
    const uint32_t bytes = kHeaderBytes + srb_bytes(version_);
    if (!primary.can_send(bytes))
        return Error(ErrorCode::busy, "storvsp: no ring space for ENUMERATE_BUS");
    uint8_t packet[kMaxPacketBytes] = {};
    wire::store_le32(&packet[offset::kOperation], static_cast<uint32_t>(Operation::enumerate_bus));
    // Unsolicited: transaction id 0, no completion wanted (Linux treats id 0 as from the host).
    TRY(primary.send_inband(0, {packet, bytes}, false));
    notify_pending_ = false;
    return {};
}

// ---------------------------------------------------------------------------------------------
// Channels

ErrorOr<void> Controller::on_open(uint16_t subchannel) {
    if (subchannel == 0) {
        // A new connection of the guest's driver: a fresh negotiation and I_T nexus; sub-channels
        // are asked for again after it.
        state_ = State::waiting_begin;
        version_ = 0;
        subchannels_offered_ = 0;
        notify_pending_ = false;
        target_.clear_unit_attentions();
        return {};
    }
    if (subchannel > subchannels_offered_)
        return Error(ErrorCode::not_found, "storvsp: sub-channel was never offered");
    return {};
}

void Controller::on_close(uint16_t subchannel) {
    if (subchannel == 0) {
        state_ = State::closed;
        notify_pending_ = false;
    }
}

ErrorOr<void> Controller::complete(const vmbus::IncomingPacket& packet,
                                   vmbus::ChannelEndpoint& reply, uint32_t status,
                                   std::span<const uint8_t> body) {
    uint8_t out[kMaxPacketBytes] = {};
    // Replies are as long as the request (Linux wants the whole 64-byte vstor_packet back).
    uint32_t size = static_cast<uint32_t>(packet.payload.size());
    if (size > kMaxPacketBytes)
        size = kMaxPacketBytes;
    wire::store_le32(&out[offset::kOperation], static_cast<uint32_t>(Operation::complete_io));
    wire::store_le32(&out[offset::kStatus], status);
    const uint32_t room = size - kHeaderBytes;
    if (!body.empty())
        memcpy(&out[kHeaderBytes], body.data(), body.size() < room ? body.size() : room);
    return reply.send_completion(packet.transaction_id, {out, size});
}

ErrorOr<void> Controller::on_packet(uint16_t subchannel, const vmbus::IncomingPacket& packet,
                                    vmbus::ChannelEndpoint& reply, vmbus::GuestMemory& memory) {
    if (packet.type != vmbus::PacketType::data_inband &&
        packet.type != vmbus::PacketType::data_using_gpa_direct)
        return Error(ErrorCode::invalid_argument, "storvsp: unexpected VMBus packet type");
    if (!packet.completion_requested)
        return Error(ErrorCode::invalid_argument, "storvsp: request without completion");
    if (packet.payload.size() < kHeaderBytes)
        return Error(ErrorCode::invalid_argument, "storvsp: packet shorter than its header");
    const uint32_t operation = wire::load_le32(&packet.payload[offset::kOperation]);
    if (operation == 0 || operation > kLastOperation)
        return Error(ErrorCode::invalid_argument, "storvsp: unknown vstor operation");
    if (packet.type == vmbus::PacketType::data_using_gpa_direct &&
        operation != static_cast<uint32_t>(Operation::execute_srb))
        return Error(ErrorCode::invalid_argument, "storvsp: page list on a non-SRB operation");
    if (state_ == State::closed || (subchannel != 0 && subchannel > subchannels_offered_))
        return Error(ErrorCode::invalid_argument, "storvsp: packet on a channel that is not open");
    // Nothing is consumed unless its answer fits: the host hands the packet over again later.
    if (!reply.can_send(kMaxPacketBytes))
        return Error(ErrorCode::busy, "storvsp: no ring space for the completion");

    if (state_ != State::ready) {
        // Sub-channels only exist once the primary is ready.
        if (subchannel != 0)
            return complete(packet, reply, nt_status::kInvalidDeviceState);
        return handle_initialization(operation, packet, reply);
    }
    TRY(handle_ready(subchannel, operation, packet, reply, memory));
    if (subchannel == 0 && notify_pending_) {
        auto delivered = deliver_notifications(reply);
        if (delivered.is_error() && delivered.error().code() != ErrorCode::busy)
            return delivered;
    }
    return {};
}

ErrorOr<void> Controller::handle_ready(uint16_t subchannel, uint32_t operation,
                                       const vmbus::IncomingPacket& packet,
                                       vmbus::ChannelEndpoint& reply, vmbus::GuestMemory& memory) {
    switch (static_cast<Operation>(operation)) {
    case Operation::execute_srb:
        return execute_srb(packet, reply, memory);
    case Operation::reset_lun:
    case Operation::reset_adapter:
    case Operation::reset_bus:
        // Every request completes inside on_packet: nothing is ever outstanding to abort.
        return complete(packet, reply, nt_status::kSuccess);
    case Operation::create_sub_channels:
        if (subchannel != 0)
            break;
        return create_sub_channels(packet, reply);
    case Operation::fc_hba_data:
        // Only Fibre Channel controllers answer it; this is a SCSI controller.
        return complete(packet, reply, nt_status::kInvalidDeviceRequest);
    default:
        break;
    }
    return complete(packet, reply, nt_status::kInvalidDeviceState);
}

ErrorOr<void> Controller::execute_srb(const vmbus::IncomingPacket& packet,
                                      vmbus::ChannelEndpoint& reply, vmbus::GuestMemory& memory) {
    const uint32_t srb_size = srb_bytes(version_);
    if (packet.payload.size() < kHeaderBytes + srb_size)
        return Error(ErrorCode::invalid_argument, "storvsp: SRB shorter than the protocol's");
    const uint8_t* srb = &packet.payload[kHeaderBytes];
    const uint32_t transfer_length = wire::load_le32(&srb[srb::kTransferLength]);
    GuestBuffer data = TRY(GuestBuffer::create(packet.ranges, memory, transfer_length));

    ScsiCommand command;
    command.path_id = srb[srb::kPathId];
    command.target_id = srb[srb::kTargetId];
    command.lun = srb[srb::kLun];
    command.cdb_length = srb[srb::kCdbLength];
    memcpy(command.cdb, &srb[srb::kCdbOrSense],
           command.cdb_length < kMaxCdbBytes ? command.cdb_length : kMaxCdbBytes);
    command.data_in = srb[srb::kDataIn];
    command.data = &data;
    const ScsiResult result = target_.execute(command);

    // The completion carries the guest's SRB back with the outcome filled in.
    uint32_t size = static_cast<uint32_t>(packet.payload.size());
    if (size > kMaxPacketBytes)
        size = kMaxPacketBytes;
    uint8_t out[kMaxPacketBytes] = {};
    memcpy(&out[kHeaderBytes], srb, size - kHeaderBytes);
    uint8_t* answer = &out[kHeaderBytes];
    wire::store_le32(&out[offset::kOperation], static_cast<uint32_t>(Operation::complete_io));
    wire::store_le32(&out[offset::kStatus], nt_status_for(result.srb_status));

    uint32_t sense_length = 0;
    const bool autosense_disabled =
        srb_size >= kSrbBytesV2 &&
        (wire::load_le32(&srb[srb::kSrbFlags]) & kSrbFlagDisableAutosense);
    if (result.sense.present() && !autosense_disabled) {
        sense_length = static_cast<uint32_t>(result.sense.bytes().size());
        if (sense_length > srb[srb::kSenseInfoLength])
            sense_length = srb[srb::kSenseInfoLength];
        if (sense_length > sense_bytes(version_))
            sense_length = sense_bytes(version_);
    }
    memset(&answer[srb::kCdbOrSense], 0, kSenseBytesV2);
    memcpy(&answer[srb::kCdbOrSense], result.sense.bytes().data(), sense_length);
    answer[srb::kSenseInfoLength] = static_cast<uint8_t>(sense_length);
    answer[srb::kSrbStatus] = static_cast<uint8_t>(
        result.srb_status | (sense_length != 0 ? srb_status::kAutosenseValid : 0));
    answer[srb::kScsiStatus] = result.scsi_status;
    wire::store_le32(&answer[srb::kTransferLength], result.transferred);
    return reply.send_completion(packet.transaction_id, {out, size});
}

} // namespace halcyon::vmm::storvsp
