// VmbusHost: construction, the SynIC ports, the device list and the channel table shared by
// the message handlers (vmbus_host_messages.cpp) and the data path (vmbus_host_data.cpp).
#include "vmm/vmbus/vmbus_host.hpp"

#include <string.h>

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

} // namespace

VmbusHost::VmbusHost(GuestMemory& memory, hyperv::SynicDelivery& synic, LogSink& log,
                     const VmbusHostConfig& config)
    : memory_(memory), synic_(synic), log_(log), config_(config) {
    if (config_.vcpu_count == 0)
        config_.vcpu_count = 1;
    message_ports_[0].host = this;
    message_ports_[0].connection_id = protocol::kMessageConnectionId;
    message_ports_[1].host = this;
    message_ports_[1].connection_id = protocol::kMulticlientMessageConnectionId;
    bindings_[0] = {protocol::kMessageConnectionId, &message_ports_[0]};
    bindings_[1] = {protocol::kMulticlientMessageConnectionId, &message_ports_[1]};
    for (uint32_t i = 0; i < kMaxChannels; ++i) {
        channel_ports_[i].host = this;
        channel_ports_[i].relid = relid_of_index(i);
        bindings_[2 + i] = {protocol::kChannelConnectionIdBase + relid_of_index(i),
                            &channel_ports_[i]};
        channels_[i].endpoint.host = this;
        channels_[i].endpoint.channel = i;
    }
    for (Device& device : devices_) {
        for (int16_t& channel : device.channels)
            channel = -1;
    }
}

// --- ports ------------------------------------------------------------------------------------

hyperv::SynicPort* VmbusHost::port_for(uint32_t connection_id) {
    for (const PortBinding& binding : bindings_) {
        if (binding.connection_id == connection_id)
            return binding.port;
    }
    return nullptr;
}

hyperv::PortStatus VmbusHost::MessagePort::on_message(uint32_t vcpu, uint32_t,
                                                      std::span<const uint8_t> payload) {
    return host->on_message(vcpu, connection_id, payload);
}

hyperv::PortStatus VmbusHost::MessagePort::on_event(uint32_t, uint16_t) {
    return hyperv::PortStatus::invalid_connection_id; // a message connection, not an event one
}

hyperv::PortStatus VmbusHost::ChannelPort::on_message(uint32_t, uint32_t,
                                                      std::span<const uint8_t>) {
    return hyperv::PortStatus::invalid_connection_id; // an event connection, not a message one
}

hyperv::PortStatus VmbusHost::ChannelPort::on_event(uint32_t, uint16_t) {
    return host->on_channel_event(relid);
}

// --- small accessors --------------------------------------------------------------------------

VmbusHost::ChannelState VmbusHost::state(uint32_t index) const {
    return static_cast<ChannelState>(load(channels_[index].state));
}

void VmbusHost::set_state(uint32_t index, ChannelState state) {
    store(channels_[index].state, static_cast<uint8_t>(state));
}

int32_t VmbusHost::device_channel(uint32_t device, uint32_t subchannel) const {
    return load(devices_[device].channels[subchannel]);
}

void VmbusHost::set_device_channel(uint32_t device, uint32_t subchannel, int32_t index) {
    store(devices_[device].channels[subchannel], static_cast<int16_t>(index));
}

int32_t VmbusHost::find_device(const ChannelDevice& device) const {
    for (uint32_t i = 0; i < kMaxDevices; ++i) {
        if (load(devices_[i].device) == &device)
            return static_cast<int32_t>(i);
    }
    return -1;
}

int32_t VmbusHost::channel_of_relid(uint32_t relid) const {
    if (relid == 0 || relid > kMaxChannels)
        return -1;
    uint32_t index = relid - 1;
    return state(index) == ChannelState::unused ? -1 : static_cast<int32_t>(index);
}

uint32_t VmbusHost::relid_of(const ChannelDevice& device, uint16_t subchannel) const {
    int32_t slot = find_device(device);
    if (slot < 0 || subchannel > kMaxSubchannelsPerDevice)
        return 0;
    int32_t index = device_channel(static_cast<uint32_t>(slot), subchannel);
    return index < 0 ? 0 : relid_of_index(static_cast<uint32_t>(index));
}

VmbusStats VmbusHost::stats() const {
    VmbusStats stats;
    stats.messages = load(messages_);
    stats.refusals = log_.refusals();
    stats.packets_in = load(packets_in_);
    stats.packets_out = load(packets_out_);
    stats.guest_signals = load(guest_signals_);
    stats.channels_faulted = load(channels_faulted_);
    stats.outbox_retries = outbox_.retries();
    stats.messages_dropped = outbox_.dropped();
    return stats;
}

// --- channel table (control lock held) --------------------------------------------------------

int32_t VmbusHost::assign_channel(uint32_t device, uint16_t subchannel) {
    for (uint32_t i = 0; i < kMaxChannels; ++i) {
        if (state(i) != ChannelState::unused)
            continue;
        Channel& channel = channels_[i];
        store(channel.device, static_cast<uint8_t>(device));
        channel.subchannel = subchannel;
        store(channel.kick, uint8_t{0});
        store(channel.waiting_for_space, uint8_t{0});
        store(channel.fault_requested, uint8_t{0});
        channel.ring_gpadl = GpadlTable::kNone;
        set_state(i, ChannelState::offered);
        set_device_channel(device, subchannel, static_cast<int32_t>(i));
        return static_cast<int32_t>(i);
    }
    log_.note(LogLevel::error, "no free channel for device %u sub-channel %u (limit %u)", device,
              subchannel, kMaxChannels);
    return -1;
}

void VmbusHost::send_offer(uint32_t index) {
    const Channel& channel = channels_[index];
    const OfferInfo& info = devices_[channel.device].device->offer();
    protocol::OfferChannel offer{};
    offer.header.type = static_cast<uint32_t>(protocol::MessageType::offer_channel);
    memcpy(offer.interface_type, info.interface_type.bytes, sizeof(offer.interface_type));
    memcpy(offer.interface_instance, info.instance.bytes, sizeof(offer.interface_instance));
    if (info.pipe_mode) {
        offer.flags = protocol::kOfferFlagNamedPipeMode;
        memcpy(offer.user_defined, &protocol::kPipeTypeMessage, sizeof(protocol::kPipeTypeMessage));
    }
    offer.subchannel_index = channel.subchannel;
    offer.child_relid = relid_of_index(index);
    // No monitor page: Linux then signals each channel with HvSignalEvent on its connection id.
    offer.monitor_allocated = 0;
    offer.is_dedicated_interrupt = 1;
    offer.connection_id = protocol::kChannelConnectionIdBase + relid_of_index(index);
    send_message(message_vcpu_, offer);
}

void VmbusHost::close_channel(uint32_t index, ChannelState next) {
    Channel& channel = channels_[index];
    Device& device = devices_[channel.device];
    {
        mm::SpinLockGuard device_guard(device.lock);
        if (state(index) == ChannelState::open)
            device.device->on_close(channel.subchannel);
        {
            mm::SpinLockGuard send_guard(channel.send_lock);
            channel.send_open = false;
        }
        store(channel.kick, uint8_t{0});
        store(channel.waiting_for_space, uint8_t{0});
        channel.space_requested = false;
        set_state(index, next);
    }
    if (channel.ring_gpadl != GpadlTable::kNone) {
        gpadls_.set_ring_in_use(static_cast<uint32_t>(channel.ring_gpadl), false);
        channel.ring_gpadl = GpadlTable::kNone;
    }
}

void VmbusHost::free_channel(uint32_t index) {
    Channel& channel = channels_[index];
    gpadls_.release_relid(relid_of_index(index));
    set_device_channel(channel.device, channel.subchannel, -1);
    set_state(index, ChannelState::unused);
}

void VmbusHost::remove_device_if_released(uint32_t slot) {
    Device& device = devices_[slot];
    if (!device.rescinding)
        return;
    for (uint32_t sub = 0; sub <= kMaxSubchannelsPerDevice; ++sub) {
        if (device_channel(slot, sub) >= 0)
            return;
    }
    device.rescinding = false;
    device.subchannels_offered = 0;
    store(device.subchannels_wanted, uint16_t{0});
    store(device.device, static_cast<ChannelDevice*>(nullptr));
}

void VmbusHost::reset_connection() {
    for (uint32_t i = 0; i < kMaxChannels; ++i) {
        if (state(i) == ChannelState::unused)
            continue;
        close_channel(i, ChannelState::offered);
        free_channel(i);
    }
    gpadls_.release_all();
    for (uint32_t slot = 0; slot < kMaxDevices; ++slot) {
        Device& device = devices_[slot];
        device.subchannels_offered = 0;
        // The guest asks for its sub-channels again after it reconnects (storvsc does on open).
        store(device.subchannels_wanted, uint16_t{0});
        remove_device_if_released(slot);
    }
    outbox_.clear();
    connected_ = false;
    offers_sent_ = false;
    version_ = 0;
}

uint32_t VmbusHost::offers_pending() const {
    uint32_t count = 0;
    for (const Device& device : devices_)
        count += load(device.device) != nullptr && !device.rescinding ? 1 : 0;
    return count;
}

void VmbusHost::process_deferred() {
    if (__atomic_exchange_n(&deferred_, uint8_t{0}, __ATOMIC_ACQ_REL) == 0)
        return;
    if (!connected_ || !offers_sent_)
        return; // REQUEST_OFFERS re-arms this
    for (uint32_t slot = 0; slot < kMaxDevices; ++slot) {
        Device& device = devices_[slot];
        if (load(device.device) == nullptr || device.rescinding)
            continue;
        uint16_t wanted = load(device.subchannels_wanted);
        while (device.subchannels_offered < wanted) {
            if (outbox_.free_slots() == 0) {
                store(deferred_, uint8_t{1}); // poll() finishes once the guest took messages
                return;
            }
            int32_t index = assign_channel(slot, device.subchannels_offered + 1);
            if (index < 0)
                break;
            send_offer(static_cast<uint32_t>(index));
            ++device.subchannels_offered;
        }
    }
}

// --- devices ----------------------------------------------------------------------------------

ErrorOr<void> VmbusHost::add_device(ChannelDevice& device) {
    mm::SpinLockGuard guard(control_lock_);
    if (find_device(device) >= 0)
        return Error(ErrorCode::already_exists, "device already on this VMBus");
    int32_t free_slot = -1;
    for (uint32_t i = 0; i < kMaxDevices; ++i) {
        if (load(devices_[i].device) == nullptr) {
            free_slot = static_cast<int32_t>(i);
            break;
        }
    }
    if (free_slot < 0)
        return Error(ErrorCode::out_of_memory, "VMBus device limit reached");
    if (connected_ && offers_sent_ && outbox_.free_slots() == 0)
        return Error(ErrorCode::busy, "VMBus message queue full: retry after poll()");
    Device& slot = devices_[free_slot];
    slot.rescinding = false;
    slot.subchannels_offered = 0;
    store(slot.subchannels_wanted, uint16_t{0});
    store(slot.draining, uint8_t{0});
    store(slot.device, &device);
    if (connected_ && offers_sent_) {
        int32_t index = assign_channel(static_cast<uint32_t>(free_slot), 0);
        if (index >= 0)
            send_offer(static_cast<uint32_t>(index)); // hot-add
    }
    return {};
}

ErrorOr<void> VmbusHost::rescind_device(ChannelDevice& device) {
    mm::SpinLockGuard guard(control_lock_);
    int32_t slot = find_device(device);
    if (slot < 0)
        return Error(ErrorCode::not_found, "device is not on this VMBus");
    Device& entry = devices_[slot];
    if (entry.rescinding)
        return {};
    uint32_t channels = 0;
    for (uint32_t sub = 0; sub <= kMaxSubchannelsPerDevice; ++sub)
        channels += device_channel(static_cast<uint32_t>(slot), sub) >= 0 ? 1 : 0;
    if (outbox_.free_slots() < channels)
        return Error(ErrorCode::busy, "VMBus message queue full: retry after poll()");
    entry.rescinding = true;
    // Sub-channels first, then the primary channel, as Hyper-V does.
    for (uint32_t n = 0; n <= kMaxSubchannelsPerDevice; ++n) {
        uint32_t sub = (n + 1) % (kMaxSubchannelsPerDevice + 1);
        int32_t index = device_channel(static_cast<uint32_t>(slot), sub);
        if (index < 0)
            continue;
        close_channel(static_cast<uint32_t>(index), ChannelState::rescinded);
        protocol::RelidMessage rescind{};
        rescind.header.type = static_cast<uint32_t>(protocol::MessageType::rescind_channel_offer);
        rescind.child_relid = relid_of_index(static_cast<uint32_t>(index));
        send_message(message_vcpu_, rescind);
    }
    remove_device_if_released(static_cast<uint32_t>(slot)); // never offered: gone at once
    return {};
}

bool VmbusHost::has_device(const ChannelDevice& device) const {
    return find_device(device) >= 0;
}

ErrorOr<void> VmbusHost::offer_subchannels(ChannelDevice& device, uint16_t count) {
    int32_t slot = find_device(device);
    if (slot < 0)
        return Error(ErrorCode::not_found, "device is not on this VMBus");
    if (count > device.offer().max_subchannels || count > kMaxSubchannelsPerDevice)
        return Error(ErrorCode::out_of_range, "more sub-channels than the device offers");
    uint16_t& wanted = devices_[slot].subchannels_wanted;
    uint16_t current = load(wanted);
    while (current < count && !__atomic_compare_exchange_n(&wanted, &current, count, false,
                                                           __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    }
    store(deferred_, uint8_t{1});
    return {};
}

ChannelEndpoint* VmbusHost::endpoint(ChannelDevice& device, uint16_t subchannel) {
    int32_t slot = find_device(device);
    if (slot < 0 || subchannel > kMaxSubchannelsPerDevice)
        return nullptr;
    int32_t index = device_channel(static_cast<uint32_t>(slot), subchannel);
    if (index < 0 || state(static_cast<uint32_t>(index)) != ChannelState::open)
        return nullptr;
    return &channels_[index].endpoint;
}

// --- driving ----------------------------------------------------------------------------------

void VmbusHost::poll() {
    {
        mm::SpinLockGuard guard(control_lock_);
        outbox_.flush(synic_, log_);
        process_deferred();
    }
    for (uint32_t i = 0; i < kMaxChannels; ++i) {
        Channel& channel = channels_[i];
        if (state(i) != ChannelState::open)
            continue;
        if (load(channel.waiting_for_space) != 0 || load(channel.fault_requested) != 0) {
            store(channel.kick, uint8_t{1});
            service_device(load(channel.device));
        }
    }
}

void VmbusHost::reset() {
    mm::SpinLockGuard guard(control_lock_);
    reset_connection();
}

} // namespace halcyon::vmm::vmbus
