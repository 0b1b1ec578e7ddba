// VmbusHost: the data path. A guest signal on a channel's connection id drains that channel's
// guest->host ring into the VSP; the VSP answers through the channel's Endpoint into the
// host->guest ring. A corrupt ring or a VSP protocol error faults the channel (closed on the
// host side, logged); the guest keeps its other channels and its own VM.
#include "vmm/vmbus/packet_parser.hpp"
#include "vmm/vmbus/vmbus_host.hpp"

namespace halcyon::vmm::vmbus {

namespace {

template <typename T>
T load(const T& field) {
    return __atomic_load_n(&field, __ATOMIC_ACQUIRE);
}

template <typename T>
void store(T& field, T value) {
    __atomic_store_n(&field, value, __ATOMIC_RELEASE);
}

template <typename T>
void count(T& counter) {
    __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
}

} // namespace

hyperv::PortStatus VmbusHost::on_channel_event(uint32_t relid) {
    if (relid == 0 || relid > kMaxChannels)
        return hyperv::PortStatus::invalid_connection_id;
    uint32_t index = relid - 1;
    ChannelState current = state(index);
    if (current == ChannelState::unused)
        return hyperv::PortStatus::invalid_connection_id; // no such channel (yet)
    if (current != ChannelState::open)
        return hyperv::PortStatus::success; // closed, faulted or rescinded: nothing to drain
    store(channels_[index].kick, uint8_t{1});
    service_device(load(channels_[index].device));
    return hyperv::PortStatus::success;
}

void VmbusHost::service_device(uint32_t slot) {
    Device& device = devices_[slot];
    // One drainer per device: a vCPU that finds another one draining leaves its kick for it.
    while (__atomic_exchange_n(&device.draining, uint8_t{1}, __ATOMIC_ACQ_REL) == 0) {
        {
            mm::SpinLockGuard guard(device.lock);
            bool worked = true;
            while (worked) {
                worked = false;
                for (uint32_t sub = 0; sub <= kMaxSubchannelsPerDevice; ++sub) {
                    int32_t index = device_channel(slot, sub);
                    if (index < 0)
                        continue;
                    Channel& channel = channels_[index];
                    if (__atomic_exchange_n(&channel.kick, uint8_t{0}, __ATOMIC_ACQ_REL) != 0 &&
                        load(channel.device) == slot) {
                        drain(static_cast<uint32_t>(index));
                        worked = true;
                    }
                }
            }
        }
        store(device.draining, uint8_t{0});
        // A kick that arrived after the last scan saw `draining` set and left: look again.
        bool pending = false;
        for (uint32_t sub = 0; sub <= kMaxSubchannelsPerDevice; ++sub) {
            int32_t index = device_channel(slot, sub);
            pending |= index >= 0 && load(channels_[index].kick) != 0;
        }
        if (!pending)
            break;
    }
    if (load(deferred_) != 0) {
        mm::SpinLockGuard guard(control_lock_);
        process_deferred();
    }
}

void VmbusHost::fault(uint32_t index, const char* why) {
    Channel& channel = channels_[index];
    log_.refuse("relid %u: %s: channel closed", relid_of_index(index), why);
    devices_[channel.device].device->on_close(channel.subchannel);
    {
        mm::SpinLockGuard send_guard(channel.send_lock);
        channel.send_open = false;
    }
    store(channel.waiting_for_space, uint8_t{0});
    set_state(index, ChannelState::faulted);
    count(channels_faulted_);
}

bool VmbusHost::request_room(uint32_t index, uint32_t bytes) {
    Channel& channel = channels_[index];
    auto available = [&] {
        mm::SpinLockGuard send_guard(channel.send_lock);
        return channel.outbound.request_space(memory_, bytes);
    }();
    if (available.is_error()) {
        fault(index, available.error().message());
        return false;
    }
    channel.space_requested = !available.value();
    return available.value();
}

bool VmbusHost::ensure_reply_room(uint32_t index) {
    Channel& channel = channels_[index];
    uint32_t needed = channel.reply_reserve;
    uint32_t wanted = load(channel.wanted_bytes);
    if (wanted > needed && wanted < channel.outbound.data_size())
        needed = wanted;
    auto free = [&] {
        mm::SpinLockGuard send_guard(channel.send_lock);
        return channel.outbound.free_bytes(memory_);
    }();
    if (free.is_error()) {
        fault(index, free.error().message());
        return false;
    }
    if (free.value() > needed) {
        if (channel.space_requested) {
            mm::SpinLockGuard send_guard(channel.send_lock);
            (void)channel.outbound.clear_request(memory_);
            channel.space_requested = false;
        }
        store(channel.wanted_bytes, 0u);
        store(channel.waiting_for_space, uint8_t{0});
        return true;
    }
    // Ask the guest to signal once it has read enough (it does from hv_pkt_iter_close).
    if (!channel.space_requested && request_room(index, needed)) {
        store(channel.waiting_for_space, uint8_t{0});
        return true;
    }
    if (state(index) == ChannelState::open)
        store(channel.waiting_for_space, uint8_t{1});
    return false;
}

void VmbusHost::drain(uint32_t index) {
    // The caller holds the lock of the channel's device and checked the channel is that
    // device's: a channel changes device only after a close, which needs this same lock.
    Channel& channel = channels_[index];
    Device& device = devices_[channel.device];
    if (state(index) != ChannelState::open)
        return;
    if (load(channel.fault_requested) != 0) {
        fault(index, "host->guest ring corrupt");
        return;
    }
    if (auto masked = channel.inbound.set_interrupt_mask(memory_, true); masked.is_error()) {
        fault(index, masked.error().message());
        return;
    }
    uint32_t busy_retries = 0;
    for (;;) {
        if (!ensure_reply_room(index))
            break;
        auto length = channel.inbound.peek(memory_, device.packet);
        if (length.is_error()) {
            fault(index, length.error().message());
            return;
        }
        if (length.value() == 0) {
            // Empty: publish what we consumed, unmask, and look once more (the guest may have
            // written after our last look while it still saw the mask set).
            auto signal = channel.inbound.commit(memory_);
            if (signal.is_error() ||
                channel.inbound.set_interrupt_mask(memory_, false).is_error()) {
                fault(index, "guest->host ring control page unwritable");
                return;
            }
            if (signal.value())
                signal_guest(index, target_of(index));
            auto more = channel.inbound.has_data(memory_);
            if (more.is_error()) {
                fault(index, more.error().message());
                return;
            }
            if (!more.value())
                return;
            (void)channel.inbound.set_interrupt_mask(memory_, true);
            continue;
        }
        auto packet = parse_packet(device.packet, length.value(), device.ranges);
        if (packet.is_error()) {
            fault(index, packet.error().message());
            return;
        }
        auto handled =
            device.device->on_packet(channel.subchannel, packet.value(), channel.endpoint, memory_);
        if (handled.is_error()) {
            if (handled.error().code() != ErrorCode::busy) {
                fault(index, handled.error().message());
                return;
            }
            // Not taken: it stays in the ring until the guest frees room for the answer.
            uint32_t wanted = load(channel.wanted_bytes);
            uint32_t needed = wanted > channel.reply_reserve ? wanted : channel.reply_reserve;
            if (request_room(index, needed) && ++busy_retries < 2)
                continue;
            if (state(index) != ChannelState::open)
                return;
            store(channel.waiting_for_space, uint8_t{1});
            break;
        }
        channel.inbound.advance(length.value());
        count(packets_in_);
    }
    if (state(index) != ChannelState::open)
        return;
    auto signal = channel.inbound.commit(memory_);
    if (signal.is_error()) {
        fault(index, signal.error().message());
        return;
    }
    if (signal.value())
        signal_guest(index, target_of(index));
    (void)channel.inbound.set_interrupt_mask(memory_, false);
}

uint32_t VmbusHost::target_of(uint32_t index) {
    mm::SpinLockGuard send_guard(channels_[index].send_lock);
    return channels_[index].target_vp;
}

void VmbusHost::signal_guest(uint32_t index, uint32_t target_vp) {
    count(guest_signals_);
    (void)synic_.signal_event(target_vp, protocol::kMessageSint, relid_of_index(index));
}

// --- sends ------------------------------------------------------------------------------------

bool VmbusHost::can_send(uint32_t index, uint32_t payload_bytes) {
    Channel& channel = channels_[index];
    uint64_t needed = OutboundRing::packet_bytes(payload_bytes);
    mm::SpinLockGuard send_guard(channel.send_lock);
    if (!channel.send_open)
        return false;
    auto free = channel.outbound.free_bytes(memory_);
    if (!free.is_error() && free.value() > needed)
        return true;
    // Remember what the VSP waits for: the host asks the guest for that much room.
    if (needed < channel.outbound.data_size())
        store(channel.wanted_bytes, static_cast<uint32_t>(needed));
    return false;
}

ErrorOr<void> VmbusHost::send_packet(uint32_t index, uint16_t type, uint16_t flags,
                                     uint64_t transaction_id, std::span<const uint8_t> payload) {
    Channel& channel = channels_[index];
    mm::SpinLockGuard send_guard(channel.send_lock);
    if (!channel.send_open)
        return Error(ErrorCode::not_found, "channel is not open");
    auto written = channel.outbound.write(memory_, type, flags, transaction_id, payload);
    if (written.is_error()) {
        if (written.error().code() == ErrorCode::corrupt)
            store(channel.fault_requested, uint8_t{1}); // faulted by the next drain or poll()
        return written.release_error();
    }
    count(packets_out_);
    if (written.value())
        signal_guest(index, channel.target_vp);
    return {};
}

bool VmbusHost::Endpoint::can_send(uint32_t payload_bytes) const {
    return host->can_send(channel, payload_bytes);
}

ErrorOr<void> VmbusHost::Endpoint::send_completion(uint64_t transaction_id,
                                                   std::span<const uint8_t> payload) {
    return host->send_packet(channel, static_cast<uint16_t>(protocol::WirePacketType::completion),
                             0, transaction_id, payload);
}

ErrorOr<void> VmbusHost::Endpoint::send_inband(uint64_t transaction_id,
                                               std::span<const uint8_t> payload,
                                               bool completion_requested) {
    return host->send_packet(channel, static_cast<uint16_t>(protocol::WirePacketType::data_inband),
                             completion_requested ? protocol::kPacketFlagCompletionRequested : 0,
                             transaction_id, payload);
}

} // namespace halcyon::vmm::vmbus
