// The common framework of the integration services: one IC channel as a ChannelDevice. It does
// what every IC shares — the NEGOTIATE handshake, request/response matching, timeouts — and asks
// the concrete service (shutdown, timesync, heartbeat, KVP) for its requests and hands it the
// answers.
//
// The protocol is host-initiated: after the guest opens the channel the host sends NEGOTIATE
// (framework versions and the service's message versions); the guest answers with its pick (or
// none); then the host sends requests and the guest answers each in place. Rules Halcyon keeps:
//   * One request in flight per channel. A request the guest leaves unanswered past its timeout
//     is reported (the service's state says so) but stays the one in flight: the guest answers
//     in order or never, so sending more would only fill its ring. A late answer is accepted and
//     the service carries on.
//   * The host never waits for the guest: requests go out from tick(now) (the management layer
//     calls it periodically) or right after the previous answer, only when the ring has room.
//   * A packet that is not a well-formed answer to the request in flight (wrong packet type, too
//     short, longer than anything sent, not flagged as a response, unknown transaction, length
//     or type differing from the request) makes on_packet fail: the VMBus host logs it and
//     closes the channel; the guest re-opens it to start over.
//
// Time is the host TSC (= guest TSC); settings are in milliseconds, converted with the TSC
// frequency given at construction. Requests sent from on_packet use the time of the last tick.
//
// Threading: on_open/on_close/on_packet come from the VMBus host (serialized per device, any
// vCPU); tick() and the services' public methods from the management layer. A spinlock inside
// serializes them; it is held only for bounded work (never while waiting for the guest). Do not
// call into a service from an interrupt handler that may have interrupted it on the same CPU.
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/spinlock.hpp"
#include "vmm/vmbus/channel_device.hpp"
#include "vmm/vmbus/ic/endpoint_source.hpp"
#include "vmm/vmbus/ic/ic_protocol.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::vmbus::ic {

[[nodiscard]] constexpr uint64_t ms_to_ticks(uint64_t tsc_hz, uint32_t ms) {
    return tsc_hz / 1000 * ms;
}

enum class IcState : uint8_t {
    closed,       // the guest has not opened the channel (no driver), or closed it
    negotiating,  // open; NEGOTIATE sent (or about to be), no answer yet
    no_answer,    // NEGOTIATE unanswered past its timeout (a late answer is still taken)
    ready,        // versions agreed; requests flow
    incompatible, // the guest shares no version with us; nothing more is sent
};
[[nodiscard]] const char* ic_state_name(IcState state);

struct IcStatus {
    IcState state = IcState::closed;
    Version framework; // agreed versions (ready only)
    Version message;
    bool request_overdue = false; // the request in flight is past its timeout
    // Why the last session ended in a protocol violation (nullptr if none did).
    const char* last_fault = nullptr;
    uint64_t requests = 0;
    uint64_t responses = 0;
    uint64_t late_responses = 0;
    uint64_t timeouts = 0;
    uint64_t faults = 0;
};

struct IcServiceConfig {
    Guid instance; // the offer's instance id
    uint64_t tsc_hz = 0;
    uint32_t negotiate_timeout_ms = 5000;
};

class IcService : public ChannelDevice {
public:
    IcService(const IcService&) = delete;
    IcService& operator=(const IcService&) = delete;

    // Expires overdue requests and sends what is due. Call periodically (every 100 ms to 1 s);
    // it never blocks on the guest.
    void tick(uint64_t now);
    [[nodiscard]] IcStatus ic_status() const;

    // --- ChannelDevice
    [[nodiscard]] const OfferInfo& offer() const override { return offer_; }
    [[nodiscard]] ErrorOr<void> on_open(uint16_t subchannel) override;
    void on_close(uint16_t subchannel) override;
    [[nodiscard]] ErrorOr<void> on_packet(uint16_t subchannel, const IncomingPacket& packet,
                                          ChannelEndpoint& reply, GuestMemory& memory) override;

protected:
    struct Identity {
        Guid interface_type;
        MessageType type;
        std::span<const Version> versions; // message versions offered, newest first
    };
    IcService(EndpointSource& endpoints, const Identity& identity, const IcServiceConfig& config);
    ~IcService() override = default;

    struct Request {
        uint32_t body_bytes = 0; // message bytes after the IC header
        uint32_t timeout_ms = 0;
    };

    // --- hooks for the concrete service, all called with the lock held
    // If a request is due, writes its message into `body` (zeroed, kMaxIcPacketBytes - header
    // bytes long), fills `request` and returns true. Must not change the service's state: the
    // send may still fail (no ring space); on_sent() confirms it went out.
    [[nodiscard]] virtual bool build_request(uint64_t now, std::span<uint8_t> body,
                                             Request& request) = 0;
    virtual void on_sent(uint64_t now) = 0;
    // The guest's answer to the request in flight: its header status and its message (as long
    // as the request's). `late`: the request had timed out. An error is a protocol violation.
    [[nodiscard]] virtual ErrorOr<void> on_response(uint64_t now, uint32_t status,
                                                    std::span<const uint8_t> body, bool late) = 0;
    // The request in flight passed its timeout (called once per request).
    virtual void on_timeout(uint64_t now) = 0;
    // A new session (the guest opened the channel: open = true) or its end (closed or faulted).
    virtual void on_session(bool open) = 0;
    // The versions were agreed (message_version_locked() is valid).
    virtual void on_ready(uint64_t now) {}
    // Every tick, open or not, after overdue requests were expired and before anything is sent.
    virtual void on_tick(uint64_t now) {}

    // --- for the service's own public methods
    [[nodiscard]] mm::SpinLock& lock() const { return lock_; }
    // Sends what is due now, if the channel is open and idle (lock held).
    void pump_locked(uint64_t now);
    [[nodiscard]] bool ready_locked() const { return state_ == IcState::ready; }
    [[nodiscard]] IcState state_locked() const { return state_; }
    [[nodiscard]] bool request_overdue_locked() const {
        return in_flight_.active && in_flight_.expired;
    }
    [[nodiscard]] Version message_version_locked() const { return message_; }
    [[nodiscard]] uint64_t ticks(uint32_t ms) const { return ms_to_ticks(tsc_hz_, ms); }
    [[nodiscard]] uint64_t last_now_locked() const { return last_now_; }

private:
    struct InFlight {
        bool active = false;
        bool expired = false;
        bool negotiate = false;
        uint8_t ic_transaction = 0;
        uint16_t type = 0;
        uint32_t bytes = 0;
        uint64_t id = 0;
        uint64_t deadline = 0;
    };

    void pump(uint64_t now, ChannelEndpoint& endpoint);
    void send(uint64_t now, ChannelEndpoint& endpoint, uint16_t type, uint32_t body_bytes,
              uint32_t timeout_ms, bool negotiate);
    [[nodiscard]] Error fault(const char* why);
    [[nodiscard]] ErrorOr<void> take_response(const IncomingPacket& packet);

    EndpointSource& endpoints_;
    OfferInfo offer_;
    MessageType type_;
    std::span<const Version> versions_;
    uint64_t tsc_hz_;
    uint32_t negotiate_timeout_ms_;

    mutable mm::SpinLock lock_;
    bool open_ = false;
    IcState state_ = IcState::closed;
    Version framework_;
    Version message_;
    InFlight in_flight_;
    uint64_t next_id_ = 1;
    uint64_t last_now_ = 0;
    const char* last_fault_ = nullptr;
    uint64_t requests_ = 0;
    uint64_t responses_ = 0;
    uint64_t late_responses_ = 0;
    uint64_t timeouts_ = 0;
    uint64_t faults_ = 0;
    uint8_t packet_[kMaxIcPacketBytes] = {};
};

} // namespace halcyon::vmm::vmbus::ic
