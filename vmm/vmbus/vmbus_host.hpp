// The VMBus host (the VSP side) of one VM: channel management with the guest's hv_vmbus
// (version negotiation, offers, GPADLs, open/close, rescind, unload and reconnect), the ring
// buffers of every open channel, and the dispatch of guest packets to the ChannelDevices
// (VSPs) behind it. Pure: it reaches the guest only through GuestMemory (RAM, every range
// checked) and hyperv::SynicDelivery (messages to SINT 2, event flags), and is reached only
// through the hyperv::SynicPorts it exposes. Fixed capacity (vmbus_limits.hpp): after
// construction it never allocates. docs/vmbus.md describes the protocol and the limits.
//
// What the VM worker does, per VM:
//   1. construct it (it is large, ~0.9 MiB: allocate it) with the VM's GuestMemory, its
//      SynicDelivery, a LogSink (default_log_sink()) and VmbusHostConfig;
//   2. add_device() each VSP (they are offered when the guest asks; later adds are hot-adds);
//   3. register every ports() entry with the SynIC (connection id -> SynicPort), or route
//      HvPostMessage/HvSignalEvent through port_for();
//   4. call poll() when the guest's SynIC frees a message slot (EOM) and periodically (a few
//      ms): it retries messages the SynIC had no room for, sends deferred sub-channel offers,
//      and resumes channels waiting for ring space from guests that do not signal it;
//   5. reset() when the guest reboots; rescind_device() to hot-remove (has_device() turns
//      false once the guest released it: the VSP may then be destroyed).
//
// Concurrency: ports may be called from several vCPUs at once. Channel management runs under
// one control lock; a device's packets (on_open/on_close/on_packet) under that device's lock,
// so calls into one VSP are serialized; each channel's host->guest ring under its own send
// lock, so ChannelEndpoint sends are safe from any context. A vCPU signalling a channel whose
// device is busy leaves a note for the vCPU draining it instead of spinning. Lock order:
// control -> device -> send.
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/spinlock.hpp"
#include "vmm/hyperv/synic_ports.hpp"
#include "vmm/vmbus/channel_device.hpp"
#include "vmm/vmbus/gpadl_table.hpp"
#include "vmm/vmbus/outbox.hpp"
#include "vmm/vmbus/ring_buffer.hpp"
#include "vmm/vmbus/vmbus_limits.hpp"
#include "vmm/vmbus/vmbus_log.hpp"
#include "vmm/vmbus/vmbus_protocol.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::vmbus {

struct VmbusHostConfig {
    uint32_t vcpu_count = 1;
    // Newest protocol version offered (tests negotiate older ones by lowering it).
    uint32_t max_version = protocol::kVersionWin10V5_3;
    uint32_t reply_reserve_bytes = kDefaultReplyReserveBytes;
};

struct PortBinding {
    uint32_t connection_id = 0;
    hyperv::SynicPort* port = nullptr;
};

struct VmbusStats {
    uint64_t messages = 0;      // guest messages handled
    uint64_t refusals = 0;      // guest messages or packets refused (each logged)
    uint64_t packets_in = 0;    // packets handed to VSPs
    uint64_t packets_out = 0;   // packets written to guest rings
    uint64_t guest_signals = 0; // channel events raised in the guest
    uint64_t channels_faulted = 0;
    uint64_t outbox_retries = 0;
    uint64_t messages_dropped = 0;
};

class VmbusHost final : public ChannelHost {
public:
    static constexpr uint32_t kPortCount = 2 + kMaxChannels;

    VmbusHost(GuestMemory& memory, hyperv::SynicDelivery& synic, LogSink& log,
              const VmbusHostConfig& config);
    VmbusHost(const VmbusHost&) = delete;
    VmbusHost& operator=(const VmbusHost&) = delete;

    // --- wiring -----------------------------------------------------------------------------
    // Every connection id this host serves: 1 and 4 (messages) and one per possible channel.
    [[nodiscard]] std::span<const PortBinding> ports() const { return bindings_; }
    [[nodiscard]] hyperv::SynicPort* port_for(uint32_t connection_id);

    // --- devices ----------------------------------------------------------------------------
    [[nodiscard]] ErrorOr<void> add_device(ChannelDevice& device);
    // Hot-remove: RESCIND for each of its channels (closed host-side first). busy: the message
    // queue is full, try again after poll().
    [[nodiscard]] ErrorOr<void> rescind_device(ChannelDevice& device);
    [[nodiscard]] bool has_device(const ChannelDevice& device) const;
    // ChannelHost. Recorded at once; the offers go out at the end of the current VMBus call
    // (e.g. the on_packet that asked) or at the next poll().
    [[nodiscard]] ErrorOr<void> offer_subchannels(ChannelDevice& device, uint16_t count) override;
    // The endpoint of an open channel, for packets a VSP sends outside on_packet (nullptr if
    // the channel is not open). Valid until that channel's on_close.
    [[nodiscard]] ChannelEndpoint* endpoint(ChannelDevice& device, uint16_t subchannel) override;

    // --- driving ----------------------------------------------------------------------------
    void poll();
    void reset();

    // --- state ------------------------------------------------------------------------------
    [[nodiscard]] bool connected() const { return connected_; }
    [[nodiscard]] uint32_t version() const { return version_; }
    // The relid of a device's channel (0 if it has none now).
    [[nodiscard]] uint32_t relid_of(const ChannelDevice& device, uint16_t subchannel) const;
    [[nodiscard]] VmbusStats stats() const;
    [[nodiscard]] const GpadlTable& gpadls() const { return gpadls_; }

private:
    enum class ChannelState : uint8_t { unused, offered, open, faulted, rescinded };

    class MessagePort final : public hyperv::SynicPort {
    public:
        VmbusHost* host = nullptr;
        uint32_t connection_id = 0;
        [[nodiscard]] hyperv::PortStatus on_message(uint32_t vcpu, uint32_t message_type,
                                                    std::span<const uint8_t> payload) override;
        [[nodiscard]] hyperv::PortStatus on_event(uint32_t vcpu, uint16_t flag_number) override;
    };

    class ChannelPort final : public hyperv::SynicPort {
    public:
        VmbusHost* host = nullptr;
        uint32_t relid = 0;
        [[nodiscard]] hyperv::PortStatus on_message(uint32_t vcpu, uint32_t message_type,
                                                    std::span<const uint8_t> payload) override;
        [[nodiscard]] hyperv::PortStatus on_event(uint32_t vcpu, uint16_t flag_number) override;
    };

    class Endpoint final : public ChannelEndpoint {
    public:
        VmbusHost* host = nullptr;
        uint32_t channel = 0;
        [[nodiscard]] bool can_send(uint32_t payload_bytes) const override;
        [[nodiscard]] ErrorOr<void> send_completion(uint64_t transaction_id,
                                                    std::span<const uint8_t> payload) override;
        [[nodiscard]] ErrorOr<void> send_inband(uint64_t transaction_id,
                                                std::span<const uint8_t> payload,
                                                bool completion_requested) override;
    };

    // Fields marked "atomic" are also read without locks (__atomic builtins).
    struct Channel {
        uint8_t state = 0;  // ChannelState; atomic; changed under control + device lock
        uint8_t device = 0; // atomic
        uint16_t subchannel = 0;
        uint8_t kick = 0;              // atomic: the guest signalled, a drain is due
        uint8_t waiting_for_space = 0; // atomic: host->guest ring lacked room, draining paused
        uint8_t fault_requested = 0;   // atomic: a send found the host->guest ring corrupt
        // Under the device lock:
        bool space_requested = false; // pending_send_sz set in the host->guest ring
        uint32_t reply_reserve = 0;   // packet bytes that must fit before a dispatch
        uint32_t wanted_bytes = 0;    // atomic: what a VSP's failed can_send() needed
        InboundRing inbound;
        // Under the control lock:
        int32_t ring_gpadl = GpadlTable::kNone;
        uint32_t open_id = 0;
        // Under the send lock:
        mm::SpinLock send_lock;
        bool send_open = false;
        uint32_t target_vp = 0;
        OutboundRing outbound;
        Endpoint endpoint;
    };

    struct Device {
        ChannelDevice* device = nullptr; // atomic
        mm::SpinLock lock;
        uint8_t draining = 0; // atomic: one vCPU drains this device's channels at a time
        bool rescinding = false;
        uint16_t subchannels_offered = 0;
        uint16_t subchannels_wanted = 0;                // atomic: set by offer_subchannels
        int16_t channels[kMaxSubchannelsPerDevice + 1]; // atomic: channel index or -1
        alignas(8) uint64_t packet[kMaxPacketBytes / 8];
        GpaRange ranges[kMaxGpaDirectRanges];
    };

    // --- channel management (vmbus_host_messages.cpp), control lock held ---
    hyperv::PortStatus on_message(uint32_t vcpu, uint32_t connection_id,
                                  std::span<const uint8_t> message);
    void dispatch_message(uint32_t vcpu, uint32_t connection_id, uint32_t type,
                          std::span<const uint8_t> message);
    [[nodiscard]] uint32_t replies_needed(uint32_t type) const;
    void handle_initiate_contact(uint32_t vcpu, std::span<const uint8_t> message);
    void handle_request_offers();
    void handle_gpadl_header(std::span<const uint8_t> message);
    void handle_gpadl_body(std::span<const uint8_t> message);
    void finish_gpadl(uint32_t slot);
    void handle_gpadl_teardown(std::span<const uint8_t> message);
    void handle_open_channel(std::span<const uint8_t> message);
    [[nodiscard]] ErrorOr<void> open_channel(uint32_t index, const protocol::OpenChannel& open);
    void handle_close_channel(std::span<const uint8_t> message);
    void handle_modify_channel(std::span<const uint8_t> message);
    void handle_relid_released(std::span<const uint8_t> message);
    void handle_unload();

    // --- shared helpers (vmbus_host.cpp), control lock held ---
    template <typename Message>
    void send_message(uint32_t vcpu, const Message& message);
    void send_offer(uint32_t index);
    [[nodiscard]] int32_t assign_channel(uint32_t device, uint16_t subchannel);
    void free_channel(uint32_t index);
    void close_channel(uint32_t index, ChannelState next);
    void reset_connection();
    void process_deferred();
    [[nodiscard]] int32_t find_device(const ChannelDevice& device) const;
    [[nodiscard]] int32_t channel_of_relid(uint32_t relid) const;
    [[nodiscard]] uint32_t offers_pending() const;
    void remove_device_if_released(uint32_t device);

    // --- data path (vmbus_host_data.cpp) ---
    hyperv::PortStatus on_channel_event(uint32_t relid);
    void service_device(uint32_t device);
    void drain(uint32_t index);                                      // device lock held
    [[nodiscard]] bool ensure_reply_room(uint32_t index);            // device lock held
    void fault(uint32_t index, const char* why);                     // device lock held
    [[nodiscard]] bool request_room(uint32_t index, uint32_t bytes); // device lock held
    [[nodiscard]] ErrorOr<void> send_packet(uint32_t index, uint16_t type, uint16_t flags,
                                            uint64_t transaction_id,
                                            std::span<const uint8_t> payload);
    [[nodiscard]] bool can_send(uint32_t index, uint32_t payload_bytes);
    void signal_guest(uint32_t index, uint32_t target_vp);
    [[nodiscard]] uint32_t target_of(uint32_t index);

    [[nodiscard]] static uint32_t relid_of_index(uint32_t index) { return index + 1; }
    [[nodiscard]] ChannelState state(uint32_t index) const;
    void set_state(uint32_t index, ChannelState state);
    [[nodiscard]] int32_t device_channel(uint32_t device, uint32_t subchannel) const;
    void set_device_channel(uint32_t device, uint32_t subchannel, int32_t index);
    template <typename Message>
    [[nodiscard]] bool read_message(std::span<const uint8_t> bytes, Message& message,
                                    const char* name);

    GuestMemory& memory_;
    hyperv::SynicDelivery& synic_;
    VmbusLog log_;
    VmbusHostConfig config_;

    mm::SpinLock control_lock_;
    bool connected_ = false;
    bool offers_sent_ = false;
    uint32_t version_ = 0;
    uint32_t message_vcpu_ = 0;
    uint8_t deferred_ = 0; // atomic: sub-channel offers or device work pending
    Outbox outbox_;
    GpadlTable gpadls_;
    Channel channels_[kMaxChannels];
    Device devices_[kMaxDevices];
    uint64_t sort_scratch_[kMaxRingPages];

    MessagePort message_ports_[2];
    ChannelPort channel_ports_[kMaxChannels];
    PortBinding bindings_[kPortCount];

    // Counters: atomic adds (the data path runs on several vCPUs).
    uint64_t messages_ = 0;
    uint64_t packets_in_ = 0;
    uint64_t packets_out_ = 0;
    uint64_t guest_signals_ = 0;
    uint64_t channels_faulted_ = 0;
};

template <typename Message>
void VmbusHost::send_message(uint32_t vcpu, const Message& message) {
    static_assert(sizeof(Message) <= protocol::kMaxMessageBytes);
    uint8_t bytes[sizeof(Message)];
    __builtin_memcpy(bytes, &message, sizeof(Message));
    // Callers made sure of the room (on_message answers insufficient_buffers otherwise).
    if (!outbox_.send(synic_, log_, vcpu, bytes))
        log_.note(LogLevel::error, "message type %u lost: outbox full", message.header.type);
}

template <typename Message>
bool VmbusHost::read_message(std::span<const uint8_t> bytes, Message& message, const char* name) {
    if (bytes.size() < sizeof(Message)) {
        log_.refuse("%s of %zu bytes refused: it has %zu", name, bytes.size(), sizeof(Message));
        return false;
    }
    __builtin_memcpy(&message, bytes.data(), sizeof(Message));
    return true;
}

} // namespace halcyon::vmm::vmbus
