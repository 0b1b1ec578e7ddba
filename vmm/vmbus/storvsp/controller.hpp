// storvsp: one synthetic SCSI controller as a VMBus device (vmm/vmbus/channel_device.hpp).
//
// The guest's storvsc opens the primary channel and negotiates: BEGIN_INITIALIZATION,
// QUERY_PROTOCOL_VERSION (newest first; unsupported versions get REVISION_MISMATCH),
// QUERY_PROPERTIES (sub-channel count, multi-channel flag, maximum transfer), optionally
// CREATE_SUB_CHANNELS, END_INITIALIZATION. Then every channel carries EXECUTE_SRB requests —
// in-band without data, GPA-direct with the data buffer's page list — each answered by one
// COMPLETE_IO completion holding the SRB with SRB status, SCSI status, sense data and the bytes
// transferred. The SCSI work is done by ScsiTarget, synchronously, inside on_packet.
//
// A packet that breaks the protocol (wrong packet type, no completion requested, too short, an
// unknown operation, an SRB whose page list is malformed or smaller than its transfer length)
// makes on_packet return an error: the host closes that channel. Requests that are merely wrong
// for the current state get a completion with an NTSTATUS error, as Hyper-V answers them.
//
// Threading: not thread-safe. The host serializes on_* per device; whoever attaches, detaches
// or resizes disks must hold the same serialization.
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/vmbus/channel_device.hpp"
#include "vmm/vmbus/storvsp/block_device.hpp"
#include "vmm/vmbus/storvsp/scsi_target.hpp"

#include <stdint.h>

namespace halcyon::vmm::storvsp {

struct ControllerConfig {
    vmbus::Guid instance;         // the controller's instance id in the VMBus offer
    uint16_t max_subchannels = 0; // 0 = single queue; Linux asks for min(this, vCPUs - 1)
    // Largest single transfer the guest may send (QUERY_PROPERTIES, VPD B0h). Rounded down to a
    // multiple of 4 KiB, at least 4 KiB.
    uint32_t max_transfer_bytes = 256 * 1024;
};

class Controller final : public vmbus::ChannelDevice {
public:
    // `host` is used for CREATE_SUB_CHANNELS (offer_subchannels), possibly from inside
    // on_packet.
    Controller(vmbus::ChannelHost& host, const ControllerConfig& config);
    Controller(const Controller&) = delete;
    Controller& operator=(const Controller&) = delete;

    // --- Disks (cold or hot). After a change while the guest is connected, an ENUMERATE_BUS
    // notification is pending: it goes out with the next primary-channel packet, or at once
    // through deliver_notifications().
    // Puts `device` at `lun` (0..63); it must outlive its attachment.
    [[nodiscard]] ErrorOr<void> attach(uint8_t lun, BlockDevice& device);
    [[nodiscard]] ErrorOr<void> detach(uint8_t lun);
    // Online resize: resizes the device and raises CAPACITY DATA HAS CHANGED for the guest.
    [[nodiscard]] ErrorOr<void> resize(uint8_t lun, uint64_t new_size_bytes);
    // The device was resized behind the controller's back: tell the guest.
    [[nodiscard]] ErrorOr<void> capacity_changed(uint8_t lun);
    [[nodiscard]] bool notification_pending() const { return notify_pending_; }
    // Sends the pending ENUMERATE_BUS on `primary` (the primary channel's endpoint). busy when
    // the ring has no room (try again when the guest frees space).
    [[nodiscard]] ErrorOr<void> deliver_notifications(vmbus::ChannelEndpoint& primary);

    [[nodiscard]] bool ready() const { return state_ == State::ready; }
    // The negotiated vstor version (0 before QUERY_PROTOCOL_VERSION succeeded).
    [[nodiscard]] uint16_t protocol_version() const { return version_; }
    [[nodiscard]] uint16_t subchannels_offered() const { return subchannels_offered_; }
    [[nodiscard]] ScsiTarget& target() { return target_; }

    // --- vmbus::ChannelDevice
    [[nodiscard]] const vmbus::OfferInfo& offer() const override { return offer_; }
    [[nodiscard]] ErrorOr<void> on_open(uint16_t subchannel) override;
    void on_close(uint16_t subchannel) override;
    [[nodiscard]] ErrorOr<void> on_packet(uint16_t subchannel, const vmbus::IncomingPacket& packet,
                                          vmbus::ChannelEndpoint& reply,
                                          vmbus::GuestMemory& memory) override;

private:
    enum class State : uint8_t {
        closed,
        waiting_begin,
        waiting_version,
        waiting_properties,
        waiting_end,
        ready,
    };

    // controller_init.cpp: the primary channel before END_INITIALIZATION.
    [[nodiscard]] ErrorOr<void> handle_initialization(uint32_t operation,
                                                      const vmbus::IncomingPacket& packet,
                                                      vmbus::ChannelEndpoint& reply);
    [[nodiscard]] ErrorOr<void> create_sub_channels(const vmbus::IncomingPacket& packet,
                                                    vmbus::ChannelEndpoint& reply);
    [[nodiscard]] ErrorOr<void> send_properties(const vmbus::IncomingPacket& packet,
                                                vmbus::ChannelEndpoint& reply);

    // controller.cpp
    [[nodiscard]] ErrorOr<void> handle_ready(uint16_t subchannel, uint32_t operation,
                                             const vmbus::IncomingPacket& packet,
                                             vmbus::ChannelEndpoint& reply,
                                             vmbus::GuestMemory& memory);
    [[nodiscard]] ErrorOr<void> execute_srb(const vmbus::IncomingPacket& packet,
                                            vmbus::ChannelEndpoint& reply,
                                            vmbus::GuestMemory& memory);
    // A COMPLETE_IO completion: header with `status`, then `body` zero-padded to the size of
    // the guest's request (capped at the largest packet).
    [[nodiscard]] ErrorOr<void> complete(const vmbus::IncomingPacket& packet,
                                         vmbus::ChannelEndpoint& reply, uint32_t status,
                                         std::span<const uint8_t> body = {});
    void raise_notification();

    vmbus::ChannelHost& host_;
    vmbus::OfferInfo offer_;
    uint32_t max_transfer_bytes_;
    State state_ = State::closed;
    uint16_t version_ = 0;
    uint16_t subchannels_offered_ = 0;
    bool notify_pending_ = false;
    ScsiTarget target_;
};

} // namespace halcyon::vmm::storvsp
