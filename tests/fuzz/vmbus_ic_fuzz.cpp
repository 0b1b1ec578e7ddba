// libFuzzer target: a guest (honest Linux 6.1 model, mutated answers, forged packets) against the
// four integration services at once, with the management layer poking them (shutdown requests,
// KVP writes with arbitrary strings, re-syncs), time passing and the guest's ring filling up.
//
// Input: a script of steps, each an opcode byte then its operands (missing bytes read as 0):
//   0 open S        1 close S            2 tick: u16 milliseconds (x 4)
//   3 honest answer of the Linux model to S's oldest queued packet
//   4 mutated answer to S's oldest packet: count, then {u16 offset, u8 xor} x count, u8 length
//     change (0 keep), u8 bits (1 other id, 2 completion packet, 4 completion requested)
//   5 forged packet to S: u8 id, u8 length / 8, bytes
//   6 management: u8 action (shutdown / restart / sync / kvp set / kvp remove / refresh), u8
//     pool, u8 key length, key bytes, u8 value length, value bytes
//   7 ring room of S: u16
// where S = operand byte & 3 (shutdown, timesync, heartbeat, KVP).
// Invariants after every step: every packet a service queued is a well-formed request (IC header
// with TRANSACTION|REQUEST, a size that is a multiple of 8 and at most the largest KVP message,
// the pipe header's byte count right); a refused packet sends nothing; an honest answer from the
// Linux model is never refused while the session saw no accepted mutation; queues stay bounded
// (one request in flight). ASan/UBSan check memory safety throughout.
#include "tests/unit/vmbus_ic_linux_guest.hpp"
#include "vmm/vmbus/ic/heartbeat_ic.hpp"
#include "vmm/vmbus/ic/ic_message.hpp"
#include "vmm/vmbus/ic/kvp_ic.hpp"
#include "vmm/vmbus/ic/shutdown_ic.hpp"
#include "vmm/vmbus/ic/timesync_ic.hpp"

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string_view>
#include <vector>

using namespace halcyon;
using namespace halcyon::vmm::vmbus;
using namespace halcyon::vmm::vmbus::ic;
namespace lg = ic_test::linux_guest;

namespace {

constexpr uint64_t kTscHz = 1'000'000'000;

void check(bool condition, const char* what) {
    if (!condition) {
        std::fprintf(stderr, "vmbus_ic_fuzz invariant broken: %s\n", what);
        std::abort();
    }
}

struct Sent {
    uint64_t id;
    std::vector<uint8_t> bytes;
};

class Ring final : public ChannelEndpoint {
public:
    bool can_send(uint32_t bytes) const override { return cost(bytes) + used() <= room; }
    ErrorOr<void> send_completion(uint64_t, std::span<const uint8_t>) override {
        check(false, "an IC sent a completion");
        return {};
    }
    ErrorOr<void> send_inband(uint64_t id, std::span<const uint8_t> payload, bool) override {
        if (!can_send(static_cast<uint32_t>(payload.size())))
            return Error(ErrorCode::busy, "full");
        queue.push_back({id, {payload.begin(), payload.end()}});
        ++sends;
        return {};
    }
    static uint32_t cost(uint32_t bytes) { return 24 + ((bytes + 7) & ~7u); }
    uint32_t used() const {
        uint32_t n = 0;
        for (const Sent& s : queue)
            n += cost(static_cast<uint32_t>(s.bytes.size()));
        return n;
    }
    uint32_t room = 3 * 4096;
    std::deque<Sent> queue;
    uint64_t sends = 0;
};

class Endpoints final : public EndpointSource {
public:
    ChannelEndpoint* endpoint(ChannelDevice&, uint16_t subchannel) override {
        return open && subchannel == 0 ? &ring : nullptr;
    }
    Ring ring;
    bool open = false;
};

class Time final : public TimeSource {
public:
    ErrorOr<TimeSample> sample(uint64_t now) override {
        return TimeSample{130'000'000'000'000'000ull + now / 100, now / 100};
    }
};

class NoMemory final : public GuestMemory {
public:
    ErrorOr<void> read(uint64_t, std::span<uint8_t>) override {
        check(false, "an IC read guest memory");
        return {};
    }
    ErrorOr<void> write(uint64_t, std::span<const uint8_t>) override {
        check(false, "an IC wrote guest memory");
        return {};
    }
};

class Reader {
public:
    Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    bool empty() const { return at_ >= size_; }
    uint8_t u8() { return at_ < size_ ? data_[at_++] : 0; }
    uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
    std::string_view text(size_t n) {
        const size_t left = at_ < size_ ? size_ - at_ : 0;
        const size_t take = n < left ? n : left;
        std::string_view out(reinterpret_cast<const char*>(data_ + at_), take);
        at_ += take;
        return out;
    }

private:
    const uint8_t* data_;
    size_t size_;
    size_t at_ = 0;
};

IcServiceConfig config(Guid instance) {
    IcServiceConfig c;
    c.instance = instance;
    c.tsc_hz = kTscHz;
    return c;
}

struct World {
    Endpoints endpoints[4];
    Time time;
    NoMemory memory;
    ShutdownIc shutdown{endpoints[0], ShutdownConfig{config(kShutdownInstance), 5000, 0}};
    TimesyncIc timesync{endpoints[1], time, TimesyncConfig{config(kTimesyncInstance), 5000, 5000}};
    HeartbeatIc heartbeat{endpoints[2], HeartbeatConfig{config(kHeartbeatInstance), 2000, 10000}};
    KvpIc kvp{endpoints[3], KvpConfig{config(kKvpInstance), 5000, 30000}};
    IcService* services[4] = {&shutdown, &timesync, &heartbeat, &kvp};
    lg::ShutdownGuest shutdown_guest;
    lg::TimesyncGuest timesync_guest;
    lg::HeartbeatGuest heartbeat_guest;
    lg::KvpGuest kvp_guest;
    bool tainted[4] = {};
    uint64_t now = 1'000'000'000;

    lg::Outcome honest(int s, const std::vector<uint8_t>& bytes) {
        switch (s) {
        case 0:
            return shutdown_guest.receive(bytes);
        case 1:
            return timesync_guest.receive(bytes);
        case 2:
            return heartbeat_guest.receive(bytes);
        default:
            return kvp_guest.receive(bytes);
        }
    }

    void open(int s) {
        if (endpoints[s].open)
            return;
        check(!services[s]->on_open(0).is_error(), "on_open of the primary channel");
        endpoints[s].open = true;
        tainted[s] = false;
    }
    void close(int s) {
        if (!endpoints[s].open)
            return;
        endpoints[s].open = false;
        endpoints[s].ring.queue.clear();
        services[s]->on_close(0);
    }
    // Hands a packet to service s as the VMBus host would; returns whether it was refused.
    bool deliver(int s, uint64_t id, std::span<const uint8_t> bytes, PacketType type,
                 bool completion) {
        if (!endpoints[s].open)
            return false;
        IncomingPacket packet;
        packet.type = type;
        packet.completion_requested = completion;
        packet.transaction_id = id;
        packet.payload = bytes;
        const uint64_t sends = endpoints[s].ring.sends;
        auto status = services[s]->on_packet(0, packet, endpoints[s].ring, memory);
        if (!status.is_error())
            return false;
        check(status.error().message() != nullptr, "error without a message");
        check(endpoints[s].ring.sends == sends, "a refused packet sent something");
        close(s); // the VMBus host closes a channel whose VSP refused a packet
        return true;
    }

    void verify() {
        for (int s = 0; s < 4; ++s) {
            const Ring& ring = endpoints[s].ring;
            check(ring.queue.size() <= 64, "queue bounded");
            for (const Sent& sent : ring.queue) {
                check(sent.bytes.size() % 8 == 0, "padded to 8 bytes");
                check(sent.bytes.size() >= kIcHeaderBytes, "has an IC header");
                check(sent.bytes.size() <= kMaxIcPacketBytes, "at most the largest message");
                auto header = read_header(sent.bytes);
                check(!header.is_error(), "header parses");
                check(header.value().flags == (kFlagTransaction | kFlagRequest), "request flags");
                check(load_le32(sent.bytes.data() + 4) == sent.bytes.size() - 8, "pipe size");
                check(header.value().size <= sent.bytes.size() - kIcHeaderBytes, "icmsgsize");
            }
            (void)ic_state_name(services[s]->ic_status().state);
        }
        (void)heartbeat_display_name(heartbeat.info().status, heartbeat.info().application);
        (void)shutdown_result_name(shutdown.outcome().result);
        char buffer[64];
        (void)kvp.hostname(buffer);
        (void)kvp.info();
        (void)timesync.info();
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    World w;
    Reader in(data, size);
    const uint8_t options = in.u8();
    w.kvp_guest.daemon = options & 1 ? lg::KvpGuest::Daemon::absent : lg::KvpGuest::Daemon::running;
    if (options & 2) {
        for (int s = 0; s < 4; ++s)
            w.open(s);
    }
    for (int steps = 0; !in.empty() && steps < 96; ++steps) {
        const uint8_t op = in.u8();
        const int s = in.u8() & 3;
        Ring& ring = w.endpoints[s].ring;
        switch (op % 8) {
        case 0:
            w.open(s);
            break;
        case 1:
            w.close(s);
            break;
        case 2: {
            w.now += uint64_t{in.u16()} * 4 * (kTscHz / 1000);
            for (IcService* service : w.services)
                service->tick(w.now);
            break;
        }
        case 3: {
            if (ring.queue.empty())
                break;
            Sent sent = ring.queue.front();
            ring.queue.pop_front();
            lg::Outcome outcome = w.honest(s, sent.bytes);
            if (!outcome.answered)
                break;
            const bool refused =
                w.deliver(s, sent.id, outcome.response, PacketType::data_inband, false);
            check(!refused || w.tainted[s], "an honest Linux answer was refused");
            break;
        }
        case 4: {
            if (ring.queue.empty())
                break;
            Sent sent = ring.queue.front();
            ring.queue.pop_front();
            lg::Outcome outcome = w.honest(s, sent.bytes);
            std::vector<uint8_t> bytes = outcome.answered ? outcome.response : sent.bytes;
            const uint8_t flips = in.u8() % 8;
            for (uint8_t i = 0; i < flips; ++i) {
                const uint16_t offset = in.u16();
                const uint8_t mask = in.u8();
                if (!bytes.empty())
                    bytes[offset % bytes.size()] ^= mask;
            }
            const uint8_t resize = in.u8();
            if (resize != 0)
                bytes.resize(resize * 24u);
            const uint8_t bits = in.u8();
            const uint64_t id = bits & 1 ? sent.id + 1 : sent.id;
            const PacketType type = bits & 2 ? PacketType::completion : PacketType::data_inband;
            if (!w.deliver(s, id, bytes, type, (bits & 4) != 0))
                w.tainted[s] = true;
            break;
        }
        case 5: {
            const uint64_t id = in.u8();
            std::string_view bytes = in.text(size_t{in.u8()} * 8);
            if (!w.deliver(s, id, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()},
                           PacketType::data_inband, false))
                w.tainted[s] = true;
            break;
        }
        case 6: {
            const uint8_t action = in.u8();
            const uint8_t pool = in.u8() % 5;
            std::string_view key = in.text(in.u8());
            std::string_view value = in.text(size_t{in.u8()} * 5);
            switch (action % 6) {
            case 0:
                (void)w.shutdown.request(ShutdownKind::shutdown, pool & 1, w.now);
                break;
            case 1:
                (void)w.shutdown.request(ShutdownKind::restart, pool & 1, w.now);
                break;
            case 2:
                w.timesync.request_sync(w.now);
                break;
            case 3:
                (void)w.kvp.set(static_cast<KvpPool>(pool), key, value, w.now);
                break;
            case 4:
                (void)w.kvp.remove(static_cast<KvpPool>(pool), key, w.now);
                break;
            case 5:
                w.kvp.refresh(w.now);
                break;
            }
            break;
        }
        case 7:
            ring.room = in.u16();
            break;
        }
        w.verify();
    }
    return 0;
}
