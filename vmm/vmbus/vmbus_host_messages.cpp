// VmbusHost: the channel-management messages the guest posts to connection id 1 (and 4), each
// validated in full before it changes anything. A malformed or out-of-state message is logged
// and dropped (or answered with a failure status where the guest waits for an answer); the
// hypercall itself succeeds, as on Hyper-V, so a hostile guest learns nothing and stalls only
// itself.
#include "vmm/vmbus/vmbus_host.hpp"

#include <string.h>

namespace halcyon::vmm::vmbus {

namespace {

using protocol::MessageType;

template <typename Message>
Message make(MessageType type) {
    Message message{};
    message.header.type = static_cast<uint32_t>(type);
    return message;
}

// Whether `pages` names a page twice; sorts a copy in `scratch` (at least as large). A shell
// sort: std::sort's libc++ instantiation for u64 lives in the libc++ library, which the core
// does not link.
bool has_duplicate(std::span<const uint64_t> pages, uint64_t* scratch) {
    size_t n = pages.size();
    for (size_t i = 0; i < n; ++i)
        scratch[i] = pages[i];
    for (size_t gap = n / 2; gap > 0; gap /= 2) {
        for (size_t i = gap; i < n; ++i) {
            uint64_t value = scratch[i];
            size_t j = i;
            for (; j >= gap && scratch[j - gap] > value; j -= gap)
                scratch[j] = scratch[j - gap];
            scratch[j] = value;
        }
    }
    for (size_t i = 1; i < n; ++i) {
        if (scratch[i] == scratch[i - 1])
            return true;
    }
    return false;
}

bool version_known(uint32_t version) {
    for (uint32_t known : protocol::kSupportedVersions) {
        if (known == version)
            return true;
    }
    return false;
}

} // namespace

hyperv::PortStatus VmbusHost::on_message(uint32_t vcpu, uint32_t connection_id,
                                         std::span<const uint8_t> message) {
    mm::SpinLockGuard guard(control_lock_);
    outbox_.flush(synic_, log_);
    if (message.size() < sizeof(protocol::MessageHeader)) {
        log_.refuse("message of %zu bytes refused: shorter than its header", message.size());
        return hyperv::PortStatus::success;
    }
    uint32_t type;
    memcpy(&type, message.data(), sizeof(type));
    // No room for the answer: the guest retries the hypercall (Linux does, with back-off).
    if (outbox_.free_slots() < replies_needed(type))
        return hyperv::PortStatus::insufficient_buffers;
    __atomic_fetch_add(&messages_, 1, __ATOMIC_RELAXED);
    dispatch_message(vcpu, connection_id, type, message);
    process_deferred();
    return hyperv::PortStatus::success;
}

uint32_t VmbusHost::replies_needed(uint32_t type) const {
    if (type == static_cast<uint32_t>(MessageType::request_offers))
        return offers_pending() + 1;
    return 1;
}

void VmbusHost::dispatch_message(uint32_t vcpu, uint32_t connection_id, uint32_t type,
                                 std::span<const uint8_t> message) {
    if (type == static_cast<uint32_t>(MessageType::initiate_contact)) {
        handle_initiate_contact(vcpu, message);
        return;
    }
    if (connection_id != protocol::kMessageConnectionId) {
        log_.refuse("message type %u on connection %u refused: only INITIATE_CONTACT goes there",
                    type, connection_id);
        return;
    }
    if (!connected_) {
        log_.refuse("message type %u refused: the guest has not negotiated a version", type);
        return;
    }
    switch (static_cast<MessageType>(type)) {
    case MessageType::request_offers:
        handle_request_offers();
        return;
    case MessageType::gpadl_header:
        handle_gpadl_header(message);
        return;
    case MessageType::gpadl_body:
        handle_gpadl_body(message);
        return;
    case MessageType::gpadl_teardown:
        handle_gpadl_teardown(message);
        return;
    case MessageType::open_channel:
        handle_open_channel(message);
        return;
    case MessageType::close_channel:
        handle_close_channel(message);
        return;
    case MessageType::modify_channel:
        handle_modify_channel(message);
        return;
    case MessageType::relid_released:
        handle_relid_released(message);
        return;
    case MessageType::unload:
        handle_unload();
        return;
    case MessageType::tl_connect_request:
        log_.refuse("TL_CONNECT_REQUEST refused: no hv_sock services on this host");
        return;
    default:
        log_.refuse("message type %u refused: unknown, or sent only by the host", type);
        return;
    }
}

void VmbusHost::handle_initiate_contact(uint32_t vcpu, std::span<const uint8_t> message) {
    protocol::InitiateContact contact;
    if (!read_message(message, contact, "INITIATE_CONTACT"))
        return;
    if (connected_) {
        // A new kernel (kexec, crash) reconnects without UNLOAD: start from scratch.
        log_.event(LogLevel::info, "guest reconnects without UNLOAD: every channel closed");
        reset_connection();
    }
    uint32_t version = contact.version_requested;
    // Before 3.0 the host answered on vCPU 0 whatever the guest wrote there.
    uint32_t target = version >= protocol::kVersionWin8_1 ? contact.target_vcpu : 0;
    bool supported = version_known(version) && version <= config_.max_version;
    if (target >= config_.vcpu_count) {
        log_.refuse("INITIATE_CONTACT refused: target vCPU %u of %u", target, config_.vcpu_count);
        target = vcpu < config_.vcpu_count ? vcpu : 0;
        supported = false;
    }
    uint8_t sint = static_cast<uint8_t>(contact.interrupt_page_or_target_info);
    if (supported && version >= protocol::kVersionWin10V5 && sint != protocol::kMessageSint) {
        log_.refuse("INITIATE_CONTACT refused: messages asked on SINT %u, VMBus uses %u", sint,
                    protocol::kMessageSint);
        supported = false;
    }
    auto response = make<protocol::VersionResponse>(MessageType::version_response);
    if (supported) {
        response.version_supported = 1;
        response.connection_state = 0;
        response.selected_version_or_connection_id =
            version >= protocol::kVersionWin10V5 ? protocol::kMessageConnectionId : version;
        connected_ = true;
        offers_sent_ = false;
        version_ = version;
        message_vcpu_ = target;
        log_.event(LogLevel::info, "guest connected: VMBus version %u.%u, messages to vCPU %u",
                   version >> 16, version & 0xFFFF, target);
    }
    send_message(target, response);
}

void VmbusHost::handle_request_offers() {
    if (offers_sent_) {
        log_.refuse("REQUEST_OFFERS refused: offers were already sent on this connection");
        return;
    }
    for (uint32_t slot = 0; slot < kMaxDevices; ++slot) {
        const Device& device = devices_[slot];
        if (__atomic_load_n(&device.device, __ATOMIC_ACQUIRE) == nullptr || device.rescinding)
            continue;
        int32_t index = assign_channel(slot, 0);
        if (index >= 0)
            send_offer(static_cast<uint32_t>(index));
    }
    send_message(message_vcpu_,
                 make<protocol::HeaderOnlyMessage>(MessageType::all_offers_delivered));
    offers_sent_ = true;
    __atomic_store_n(&deferred_, uint8_t{1}, __ATOMIC_RELEASE); // sub-channels asked early
}

// --- GPADLs -----------------------------------------------------------------------------------

void VmbusHost::handle_gpadl_header(std::span<const uint8_t> message) {
    protocol::GpadlHeader header;
    if (!read_message(message, header, "GPADL_HEADER"))
        return;
    auto created = make<protocol::GpadlCreated>(MessageType::gpadl_created);
    created.child_relid = header.child_relid;
    created.gpadl = header.gpadl;
    created.status = protocol::kStatusUnsuccessful;
    int32_t index = channel_of_relid(header.child_relid);
    if (index < 0 || state(static_cast<uint32_t>(index)) == ChannelState::rescinded) {
        log_.refuse("GPADL_HEADER %#x refused: relid %u is not an offered channel", header.gpadl,
                    header.child_relid);
        send_message(message_vcpu_, created);
        return;
    }
    auto slot = gpadls_.begin(header.child_relid, header.gpadl, header.range_count,
                              header.range_buffer_bytes);
    if (slot.is_error()) {
        log_.refuse("GPADL %#x of relid %u refused: %s", header.gpadl, header.child_relid,
                    slot.error().message());
        send_message(message_vcpu_, created);
        return;
    }
    auto complete = gpadls_.append(slot.value(), message.subspan(sizeof(header)));
    if (!complete.is_error() && complete.value())
        finish_gpadl(slot.value());
}

void VmbusHost::handle_gpadl_body(std::span<const uint8_t> message) {
    protocol::GpadlBody body;
    if (!read_message(message, body, "GPADL_BODY"))
        return;
    int32_t slot = gpadls_.find(body.gpadl);
    if (slot < 0 || gpadls_.info(static_cast<uint32_t>(slot)).state != GpadlState::receiving) {
        log_.refuse("GPADL_BODY refused: GPADL %#x is not being created", body.gpadl);
        return;
    }
    auto complete = gpadls_.append(static_cast<uint32_t>(slot), message.subspan(sizeof(body)));
    if (!complete.is_error() && complete.value())
        finish_gpadl(static_cast<uint32_t>(slot));
}

void VmbusHost::finish_gpadl(uint32_t slot) {
    const GpadlInfo& info = gpadls_.info(slot);
    auto created = make<protocol::GpadlCreated>(MessageType::gpadl_created);
    created.child_relid = info.relid;
    created.gpadl = info.id;
    created.status = protocol::kStatusSuccess;
    auto valid = gpadls_.validate(slot, memory_);
    if (valid.is_error()) {
        log_.refuse("GPADL %#x of relid %u refused: %s", info.id, info.relid,
                    valid.error().message());
        created.status = protocol::kStatusUnsuccessful;
        gpadls_.release(slot);
    }
    send_message(message_vcpu_, created);
}

void VmbusHost::handle_gpadl_teardown(std::span<const uint8_t> message) {
    protocol::GpadlTeardown teardown;
    if (!read_message(message, teardown, "GPADL_TEARDOWN"))
        return;
    int32_t slot = gpadls_.find(teardown.gpadl);
    if (slot < 0 || gpadls_.info(static_cast<uint32_t>(slot)).relid != teardown.child_relid) {
        log_.refuse("GPADL_TEARDOWN refused: no GPADL %#x on relid %u", teardown.gpadl,
                    teardown.child_relid);
        return;
    }
    if (gpadls_.info(static_cast<uint32_t>(slot)).ring_in_use) {
        int32_t index = channel_of_relid(teardown.child_relid);
        log_.refuse("GPADL %#x torn down while relid %u reads its rings from it: channel closed",
                    teardown.gpadl, teardown.child_relid);
        if (index >= 0)
            close_channel(static_cast<uint32_t>(index), ChannelState::offered);
    }
    gpadls_.release(static_cast<uint32_t>(slot));
    auto torndown = make<protocol::GpadlTorndown>(MessageType::gpadl_torndown);
    torndown.gpadl = teardown.gpadl;
    send_message(message_vcpu_, torndown);
}

// --- channels ---------------------------------------------------------------------------------

void VmbusHost::handle_open_channel(std::span<const uint8_t> message) {
    protocol::OpenChannel open;
    if (!read_message(message, open, "OPEN_CHANNEL"))
        return;
    auto result = make<protocol::OpenResult>(MessageType::open_channel_result);
    result.child_relid = open.child_relid;
    result.open_id = open.open_id;
    result.status = protocol::kStatusUnsuccessful;
    int32_t index = channel_of_relid(open.child_relid);
    if (index < 0) {
        log_.refuse("OPEN_CHANNEL refused: relid %u is not offered", open.child_relid);
        send_message(message_vcpu_, result);
        return;
    }
    ChannelState current = state(static_cast<uint32_t>(index));
    if (current == ChannelState::rescinded)
        return; // Hyper-V ignores opens of rescinded channels; the guest handles the rescind
    if (current != ChannelState::offered) {
        log_.refuse("OPEN_CHANNEL refused: relid %u is already open", open.child_relid);
        send_message(message_vcpu_, result);
        return;
    }
    auto opened = open_channel(static_cast<uint32_t>(index), open);
    if (opened.is_error())
        log_.refuse("OPEN_CHANNEL of relid %u refused: %s", open.child_relid,
                    opened.error().message());
    else
        result.status = protocol::kStatusSuccess;
    send_message(message_vcpu_, result);
}

ErrorOr<void> VmbusHost::open_channel(uint32_t index, const protocol::OpenChannel& open) {
    int32_t slot = gpadls_.find(open.ring_gpadl);
    if (slot < 0)
        return Error(ErrorCode::not_found, "ring GPADL does not exist");
    const GpadlInfo& info = gpadls_.info(static_cast<uint32_t>(slot));
    if (info.relid != open.child_relid)
        return Error(ErrorCode::permission, "ring GPADL belongs to another channel");
    if (info.ring_in_use)
        return Error(ErrorCode::busy, "ring GPADL already carries an open channel");
    std::span<const uint64_t> pages = TRY(gpadls_.aligned_pages(static_cast<uint32_t>(slot)));
    uint32_t split = open.downstream_ring_page_offset;
    if (pages.size() > kMaxRingPages)
        return Error(ErrorCode::out_of_range, "ring GPADL larger than the ring limit");
    if (split < kMinRingPagesPerDirection || split > pages.size() ||
        pages.size() - split < kMinRingPagesPerDirection)
        return Error(ErrorCode::invalid_argument, "ring split leaves a ring without data pages");
    // A page used twice would let the guest alias one ring's control page into the other's data.
    if (has_duplicate(pages, sort_scratch_))
        return Error(ErrorCode::invalid_argument, "ring GPADL names a page twice");
    if (open.target_vp >= config_.vcpu_count)
        return Error(ErrorCode::out_of_range, "target VP is not a vCPU of this VM");

    Channel& channel = channels_[index];
    Device& device = devices_[channel.device];
    {
        mm::SpinLockGuard device_guard(device.lock);
        TRY(channel.inbound.attach(RingPages(pages.first(split)), memory_));
        {
            mm::SpinLockGuard send_guard(channel.send_lock);
            TRY(channel.outbound.attach(RingPages(pages.subspan(split)), memory_));
        }
        uint32_t reserve = config_.reply_reserve_bytes;
        uint32_t half = channel.outbound.data_size() / 2;
        channel.reply_reserve = reserve < half ? reserve : half;
        channel.space_requested = false;
        __atomic_store_n(&channel.wanted_bytes, 0u, __ATOMIC_RELAXED);
        __atomic_store_n(&channel.waiting_for_space, uint8_t{0}, __ATOMIC_RELEASE);
        __atomic_store_n(&channel.fault_requested, uint8_t{0}, __ATOMIC_RELEASE);
        TRY(device.device->on_open(channel.subchannel));
        {
            mm::SpinLockGuard send_guard(channel.send_lock);
            channel.target_vp = open.target_vp;
            channel.send_open = true;
        }
        set_state(index, ChannelState::open);
    }
    gpadls_.set_ring_in_use(static_cast<uint32_t>(slot), true);
    channel.ring_gpadl = slot;
    channel.open_id = open.open_id;
    return {};
}

void VmbusHost::handle_close_channel(std::span<const uint8_t> message) {
    protocol::RelidMessage close;
    if (!read_message(message, close, "CLOSE_CHANNEL"))
        return;
    int32_t index = channel_of_relid(close.child_relid);
    ChannelState current = index < 0 ? ChannelState::unused : state(static_cast<uint32_t>(index));
    if (current == ChannelState::open || current == ChannelState::faulted) {
        close_channel(static_cast<uint32_t>(index), ChannelState::offered);
        return;
    }
    if (current == ChannelState::rescinded)
        return; // the guest's driver closing what we rescinded: already closed here
    log_.refuse("CLOSE_CHANNEL refused: relid %u is not open", close.child_relid);
}

void VmbusHost::handle_modify_channel(std::span<const uint8_t> message) {
    protocol::ModifyChannel modify;
    if (!read_message(message, modify, "MODIFYCHANNEL"))
        return;
    if (version_ < protocol::kVersionWin10V4_1) {
        log_.refuse("MODIFYCHANNEL refused: it needs version 4.1");
        return;
    }
    auto response = make<protocol::ModifyChannelResponse>(MessageType::modify_channel_response);
    response.child_relid = modify.child_relid;
    response.status = protocol::kStatusUnsuccessful;
    int32_t index = channel_of_relid(modify.child_relid);
    if (index < 0 || state(static_cast<uint32_t>(index)) != ChannelState::open) {
        log_.refuse("MODIFYCHANNEL refused: relid %u is not open", modify.child_relid);
    } else if (modify.target_vp >= config_.vcpu_count) {
        log_.refuse("MODIFYCHANNEL of relid %u refused: VP %u is not a vCPU", modify.child_relid,
                    modify.target_vp);
    } else {
        Channel& channel = channels_[index];
        mm::SpinLockGuard send_guard(channel.send_lock);
        channel.target_vp = modify.target_vp;
        response.status = protocol::kStatusSuccess;
    }
    // Only 5.3 acknowledges (Linux waits for the answer from 5.3 on, never before).
    if (version_ >= protocol::kVersionWin10V5_3)
        send_message(message_vcpu_, response);
}

void VmbusHost::handle_relid_released(std::span<const uint8_t> message) {
    protocol::RelidMessage released;
    if (!read_message(message, released, "RELID_RELEASED"))
        return;
    int32_t index = channel_of_relid(released.child_relid);
    if (index < 0 || state(static_cast<uint32_t>(index)) != ChannelState::rescinded) {
        log_.refuse("RELID_RELEASED refused: relid %u was not rescinded", released.child_relid);
        return;
    }
    uint32_t device = channels_[index].device;
    free_channel(static_cast<uint32_t>(index));
    remove_device_if_released(device);
}

void VmbusHost::handle_unload() {
    uint32_t target = message_vcpu_;
    reset_connection();
    log_.event(LogLevel::info, "guest unloaded VMBus");
    send_message(target, make<protocol::HeaderOnlyMessage>(MessageType::unload_response));
}

} // namespace halcyon::vmm::vmbus
