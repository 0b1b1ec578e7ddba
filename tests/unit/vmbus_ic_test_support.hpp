// Test harness for the integration services: a ring endpoint that records what the host sends,
// an endpoint source standing in for the VMBus host, and a loop that hands each packet to the
// Linux guest model (vmbus_ic_linux_guest.hpp) and its answer back to the service, as the VMBus
// host's data path would (an in-band packet with the request's transaction id).
#pragma once

#include "vmbus_ic_linux_guest.hpp"

#include "vmm/vmbus/ic/heartbeat_ic.hpp"
#include "vmm/vmbus/ic/kvp_ic.hpp"
#include "vmm/vmbus/ic/shutdown_ic.hpp"
#include "vmm/vmbus/ic/timesync_ic.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <optional>
#include <vector>

namespace ic_test {

using namespace halcyon;
using namespace halcyon::vmm;
using namespace halcyon::vmm::vmbus;
using namespace halcyon::vmm::vmbus::ic;

inline constexpr uint64_t kTscHz = 1'000'000'000; // 1 GHz: 1 ms = 1,000,000 ticks
inline constexpr uint64_t kMs = kTscHz / 1000;

struct SentPacket {
    uint64_t id = 0;
    bool completion_requested = false;
    std::vector<uint8_t> bytes;
};

// The host->guest ring of one channel: `room` bytes free (a packet costs 16 + payload rounded
// to 8 + 8, as in the real ring); the test empties it by letting the guest read.
class FakeEndpoint final : public ChannelEndpoint {
public:
    bool can_send(uint32_t payload_bytes) const override {
        return cost(payload_bytes) <= room - used();
    }
    ErrorOr<void> send_completion(uint64_t, std::span<const uint8_t>) override {
        ADD_FAILURE() << "integration services never send completions";
        return Error(ErrorCode::invalid_argument, "unexpected completion");
    }
    ErrorOr<void> send_inband(uint64_t id, std::span<const uint8_t> payload,
                              bool completion_requested) override {
        if (fail_sends)
            return Error(ErrorCode::not_found, "fake: channel closed");
        if (!can_send(static_cast<uint32_t>(payload.size())))
            return Error(ErrorCode::busy, "fake: ring full");
        EXPECT_EQ(payload.size() % 8, 0u) << "requests are padded to the ring's 8-byte units";
        queue.push_back({id, completion_requested, {payload.begin(), payload.end()}});
        ++total_sent;
        return {};
    }
    static uint32_t cost(uint32_t payload) { return 16 + ((payload + 7) & ~7u) + 8; }
    uint32_t used() const {
        uint32_t n = 0;
        for (const SentPacket& p : queue)
            n += cost(static_cast<uint32_t>(p.bytes.size()));
        return n;
    }
    uint32_t room = 3 * 4096; // Linux's hv_utils ring: 3 pages of data
    bool fail_sends = false;
    std::deque<SentPacket> queue; // sent, not yet read by the guest
    uint64_t total_sent = 0;
};

class FakeEndpoints final : public EndpointSource {
public:
    ChannelEndpoint* endpoint(ChannelDevice&, uint16_t subchannel) override {
        ++lookups;
        return open && subchannel == 0 ? &ring : nullptr;
    }
    FakeEndpoint ring;
    bool open = false;
    uint64_t lookups = 0;
};

class NoMemory final : public GuestMemory {
public:
    ErrorOr<void> read(uint64_t, std::span<uint8_t>) override {
        ADD_FAILURE() << "integration services never touch guest memory";
        return Error(ErrorCode::out_of_range, "no");
    }
    ErrorOr<void> write(uint64_t, std::span<const uint8_t>) override {
        ADD_FAILURE() << "integration services never touch guest memory";
        return Error(ErrorCode::out_of_range, "no");
    }
};

// The error code of a result, or nothing for a success (ErrorOr<void>::error() of a success
// would read as invalid_argument).
template <typename T>
std::optional<ErrorCode> code_of(const ErrorOr<T>& result) {
    if (!result.is_error())
        return std::nullopt;
    return result.error().code();
}

inline IcServiceConfig ic_config(Guid instance) {
    IcServiceConfig config;
    config.instance = instance;
    config.tsc_hz = kTscHz;
    config.negotiate_timeout_ms = 5000;
    return config;
}

// A service, its channel and a Linux guest model on the other side.
template <typename Service, typename Guest>
struct Harness {
    template <typename... Args>
    explicit Harness(Args&&... args) : service(endpoints, std::forward<Args>(args)...) {}

    // The guest's driver opens the channel (the VMBus host then calls on_open and marks the
    // channel open before the next tick sends anything).
    void open() {
        ASSERT_FALSE(service.on_open(0).is_error());
        endpoints.open = true;
    }
    void close() {
        endpoints.open = false;
        endpoints.ring.queue.clear();
        service.on_close(0);
    }
    void tick(uint64_t ms = 0) {
        now += ms * kMs;
        service.tick(now);
    }
    // Hands one packet to the guest and its answer (if any) to the service.
    ErrorOr<void> deliver(const SentPacket& packet, linux_guest::Outcome outcome) {
        if (!outcome.answered)
            return {};
        last_response = outcome.response;
        return answer(packet.id, outcome.response);
    }
    ErrorOr<void> answer(uint64_t id, std::span<const uint8_t> bytes,
                         PacketType type = PacketType::data_inband, bool completion = false) {
        IncomingPacket packet;
        packet.type = type;
        packet.completion_requested = completion;
        packet.transaction_id = id;
        packet.payload = bytes;
        return service.on_packet(0, packet, endpoints.ring, memory);
    }
    // The guest reads the first queued packet and answers it (if it does).
    void step_guest() {
        ASSERT_FALSE(endpoints.ring.queue.empty());
        SentPacket packet = endpoints.ring.queue.front();
        endpoints.ring.queue.pop_front();
        auto status = deliver(packet, guest.receive(packet.bytes));
        ASSERT_FALSE(status.is_error()) << status.error().message();
    }
    // The guest reads every queued packet and answers; repeats while answers trigger requests.
    void run_guest() {
        for (int guard = 0; guard < 1000 && !endpoints.ring.queue.empty(); ++guard) {
            SentPacket packet = endpoints.ring.queue.front();
            endpoints.ring.queue.pop_front();
            auto status = deliver(packet, guest.receive(packet.bytes));
            ASSERT_FALSE(status.is_error()) << status.error().message();
        }
    }
    // Linux's own view of the first queued packet, without answering it.
    const SentPacket& front() { return endpoints.ring.queue.front(); }
    const linux_guest::icmsg_hdr& front_header() {
        return *reinterpret_cast<const linux_guest::icmsg_hdr*>(front().bytes.data() + 8);
    }

    FakeEndpoints endpoints;
    NoMemory memory;
    Service service;
    Guest guest;
    uint64_t now = 1'000 * kMs;
    std::vector<uint8_t> last_response;
};

inline ShutdownConfig shutdown_config() {
    ShutdownConfig config;
    config.ic = ic_config(kShutdownInstance);
    return config;
}
inline HeartbeatConfig heartbeat_config() {
    HeartbeatConfig config;
    config.ic = ic_config(kHeartbeatInstance);
    return config;
}
inline TimesyncConfig timesync_config() {
    TimesyncConfig config;
    config.ic = ic_config(kTimesyncInstance);
    return config;
}
inline KvpConfig kvp_config() {
    KvpConfig config;
    config.ic = ic_config(kKvpInstance);
    return config;
}

// A time source whose UTC and reference time advance with the TSC (1 tick = 1 ns).
class FakeTimeSource final : public TimeSource {
public:
    ErrorOr<TimeSample> sample(uint64_t now) override {
        ++calls;
        if (broken)
            return Error(ErrorCode::not_found, "fake: no wall clock");
        return TimeSample{utc_base + now / 100, now / 100};
    }
    uint64_t utc_base = 133'000'000'000'000'000ull; // some time in 2022, 100 ns since 1601
    bool broken = false;
    uint64_t calls = 0;
};

} // namespace ic_test
