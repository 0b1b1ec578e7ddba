// The IC framework: negotiation, one request in flight, timeouts, answer validation.
#include "vmm/vmbus/ic/ic_service.hpp"

#include "vmm/vmbus/ic/ic_message.hpp"

#include <string.h>

namespace halcyon::vmm::vmbus::ic {

const char* ic_state_name(IcState state) {
    switch (state) {
    case IcState::closed:
        return "closed";
    case IcState::negotiating:
        return "negotiating";
    case IcState::no_answer:
        return "no answer";
    case IcState::ready:
        return "ready";
    case IcState::incompatible:
        return "incompatible";
    }
    return "unknown";
}

IcService::IcService(EndpointSource& endpoints, const Identity& identity,
                     const IcServiceConfig& config)
    : endpoints_(endpoints), type_(identity.type), versions_(identity.versions),
      tsc_hz_(config.tsc_hz), negotiate_timeout_ms_(config.negotiate_timeout_ms) {
    offer_.interface_type = identity.interface_type;
    offer_.instance = config.instance;
    offer_.max_subchannels = 0;
    // Hyper-V (and OpenVMM) offer the ICs as message-mode pipes: that mode is why every IC packet
    // starts with the 8-byte pipe header. Linux's hv_utils ignores the offer's pipe flags.
    offer_.pipe_mode = true;
}

IcStatus IcService::ic_status() const {
    mm::SpinLockGuard guard(lock_);
    IcStatus status;
    status.state = state_;
    if (state_ == IcState::ready) {
        status.framework = framework_;
        status.message = message_;
    }
    status.request_overdue = in_flight_.active && in_flight_.expired;
    status.last_fault = last_fault_;
    status.requests = requests_;
    status.responses = responses_;
    status.late_responses = late_responses_;
    status.timeouts = timeouts_;
    status.faults = faults_;
    return status;
}

ErrorOr<void> IcService::on_open(uint16_t subchannel) {
    if (subchannel != 0)
        return Error(ErrorCode::not_found, "ic: integration services have no sub-channels");
    mm::SpinLockGuard guard(lock_);
    open_ = true;
    state_ = IcState::negotiating;
    framework_ = {};
    message_ = {};
    in_flight_ = {};
    on_session(true);
    return {};
}

void IcService::on_close(uint16_t subchannel) {
    if (subchannel != 0)
        return;
    mm::SpinLockGuard guard(lock_);
    open_ = false;
    state_ = IcState::closed;
    in_flight_ = {};
    on_session(false);
}

void IcService::tick(uint64_t now) {
    mm::SpinLockGuard guard(lock_);
    last_now_ = now;
    if (open_ && in_flight_.active && !in_flight_.expired && now >= in_flight_.deadline) {
        in_flight_.expired = true;
        ++timeouts_;
        if (in_flight_.negotiate)
            state_ = IcState::no_answer;
        else
            on_timeout(now);
    }
    on_tick(now);
    pump_locked(now);
}

void IcService::pump_locked(uint64_t now) {
    if (!open_ || in_flight_.active)
        return;
    ChannelEndpoint* endpoint = endpoints_.endpoint(*this, 0);
    if (endpoint != nullptr)
        pump(now, *endpoint);
}

void IcService::pump(uint64_t now, ChannelEndpoint& endpoint) {
    if (!open_ || in_flight_.active)
        return;
    std::span<uint8_t> body(packet_ + kIcHeaderBytes, sizeof(packet_) - kIcHeaderBytes);
    if (state_ == IcState::negotiating) {
        memset(packet_, 0, sizeof(packet_));
        auto bytes = write_negotiate(body, kFrameworkVersions, versions_);
        if (bytes.is_error())
            return; // the version tables are constants that fit: cannot happen
        send(now, endpoint, static_cast<uint16_t>(MessageType::negotiate), bytes.value(),
             negotiate_timeout_ms_, true);
        return;
    }
    if (state_ != IcState::ready)
        return;
    memset(packet_, 0, sizeof(packet_));
    Request request;
    if (!build_request(now, body, request) || request.body_bytes > body.size())
        return;
    send(now, endpoint, static_cast<uint16_t>(type_), request.body_bytes, request.timeout_ms,
         false);
}

void IcService::send(uint64_t now, ChannelEndpoint& endpoint, uint16_t type, uint32_t body_bytes,
                     uint32_t timeout_ms, bool negotiate) {
    const uint32_t bytes = padded_packet_bytes(kIcHeaderBytes + body_bytes);
    if (bytes > sizeof(packet_) || !endpoint.can_send(bytes))
        return; // tried again at the next tick or answer
    MessageHeader header;
    if (!negotiate) {
        header.framework = framework_;
        header.message = message_;
    }
    header.type = type;
    header.size = static_cast<uint16_t>(body_bytes);
    header.transaction = static_cast<uint8_t>(next_id_);
    header.flags = kFlagTransaction | kFlagRequest;
    write_header({packet_, bytes}, header);
    if (endpoint.send_inband(next_id_, {packet_, bytes}, false).is_error())
        return; // the channel is closing or the ring filled: nothing was sent
    in_flight_.active = true;
    in_flight_.expired = false;
    in_flight_.negotiate = negotiate;
    in_flight_.ic_transaction = header.transaction;
    in_flight_.type = type;
    in_flight_.bytes = bytes;
    in_flight_.id = next_id_;
    const uint64_t wait = ticks(timeout_ms);
    in_flight_.deadline = now + wait < now ? ~uint64_t{0} : now + wait;
    ++next_id_;
    ++requests_;
    if (!negotiate)
        on_sent(now);
}

Error IcService::fault(const char* why) {
    last_fault_ = why;
    ++faults_;
    return Error(ErrorCode::invalid_argument, why);
}

ErrorOr<void> IcService::on_packet(uint16_t subchannel, const IncomingPacket& packet,
                                   ChannelEndpoint& reply, GuestMemory&) {
    mm::SpinLockGuard guard(lock_);
    if (subchannel != 0 || !open_)
        return fault("ic: packet on a channel that is not open");
    TRY(take_response(packet));
    pump(last_now_, reply);
    return {};
}

ErrorOr<void> IcService::take_response(const IncomingPacket& packet) {
    if (packet.type != PacketType::data_inband)
        return fault("ic: guest sent a packet that is not in-band data");
    if (packet.completion_requested)
        return fault("ic: guest asked for a completion");
    if (packet.payload.size() > kMaxIcPacketBytes)
        return fault("ic: guest packet longer than any request");
    auto parsed = read_header(packet.payload);
    if (parsed.is_error())
        return fault("ic: guest packet shorter than the IC header");
    const MessageHeader header = parsed.value();
    if ((header.flags & kFlagResponse) == 0)
        return fault("ic: guest packet is not flagged as a response");
    if (!in_flight_.active || packet.transaction_id != in_flight_.id)
        return fault("ic: response to no request in flight");
    if (header.transaction != in_flight_.ic_transaction || header.type != in_flight_.type)
        return fault("ic: response does not match its request");
    if (packet.payload.size() != in_flight_.bytes)
        return fault("ic: response length differs from the request's");

    const bool late = in_flight_.expired;
    const bool negotiate = in_flight_.negotiate;
    in_flight_ = {};
    ++responses_;
    if (late)
        ++late_responses_;
    std::span<const uint8_t> body = packet.payload.subspan(kIcHeaderBytes);
    if (negotiate) {
        auto result = read_negotiate_response(body, kFrameworkVersions, versions_);
        if (result.is_error())
            return fault(result.error().message());
        // Linux never sets a failure status on NEGOTIATE; one would mean "no agreement".
        if (!result.value().agreed || header.status != kStatusOk) {
            state_ = IcState::incompatible;
            return {};
        }
        framework_ = result.value().framework;
        message_ = result.value().message;
        state_ = IcState::ready;
        on_ready(last_now_);
        return {};
    }
    auto handled = on_response(last_now_, header.status, body, late);
    if (handled.is_error())
        return fault(handled.error().message());
    return {};
}

} // namespace halcyon::vmm::vmbus::ic
