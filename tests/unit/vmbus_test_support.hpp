// Test doubles for the VMBus host: guest RAM as a byte array with holes, a SynIC that records
// what the host posts and signals (and can run out of message buffers), a log that keeps its
// lines, and a VSP that echoes requests back as completions.
#pragma once

#include "vmm/vmbus/vmbus_host.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace vmbus_test {

using namespace halcyon;
using namespace halcyon::vmm::vmbus;
namespace hv = halcyon::vmm::hyperv;

inline constexpr uint64_t kPage = 4096;

// Guest RAM [0, size) minus `holes` (pages that are not RAM, e.g. an MMIO gap). In strict mode
// (the fuzzer) an access of more than one byte outside RAM aborts: the host may probe a page
// with single bytes, but must never copy from or to memory it did not validate.
class FakeGuestMemory final : public GuestMemory {
public:
    // Pages come into existence when first touched, so a test VM can have a lot of "RAM".
    explicit FakeGuestMemory(uint64_t bytes) : size_(bytes) {}

    // An aligned 4-byte access is one atomic access, as the partition's memcpy over mapped RAM
    // is: the ring indices the guest updates concurrently are never read torn.
    ErrorOr<void> read(uint64_t gpa, std::span<uint8_t> out) override {
        reads.fetch_add(1, std::memory_order_relaxed);
        if (!valid(gpa, out.size()))
            return Error(ErrorCode::out_of_range, "not guest RAM");
        if (out.size() == 4 && gpa % 4 == 0) {
            uint32_t value = get<uint32_t>(gpa);
            std::memcpy(out.data(), &value, 4);
        } else {
            for (size_t i = 0; i < out.size(); ++i)
                out[i] = peek(gpa + i);
        }
        note(gpa, out.size());
        return {};
    }
    ErrorOr<void> write(uint64_t gpa, std::span<const uint8_t> data) override {
        writes.fetch_add(1, std::memory_order_relaxed);
        if (!valid(gpa, data.size()))
            return Error(ErrorCode::out_of_range, "not guest RAM");
        if (data.size() == 4 && gpa % 4 == 0) {
            uint32_t value;
            std::memcpy(&value, data.data(), 4);
            put<uint32_t>(gpa, value);
        } else {
            for (size_t i = 0; i < data.size(); ++i)
                *at(gpa + i) = data[i];
        }
        note(gpa, data.size());
        return {};
    }

    bool is_ram(uint64_t gpa, uint64_t size) const {
        if (size == 0 || gpa >= size_ || size_ - gpa < size)
            return false;
        for (uint64_t page = gpa / kPage; page <= (gpa + size - 1) / kPage; ++page) {
            if (holes.count(page) != 0)
                return false;
        }
        return true;
    }
    uint8_t* at(uint64_t gpa) {
        auto& page = pages_[gpa / kPage];
        if (!page)
            page = std::make_unique<uint8_t[]>(kPage); // zeroed
        return page.get() + gpa % kPage;
    }
    uint64_t size() const { return size_; }
    uint8_t peek(uint64_t gpa) const { // untouched pages read as zero without being created
        auto page = pages_.find(gpa / kPage);
        return page == pages_.end() ? 0 : page->second[gpa % kPage];
    }

    // Aligned words, atomically (the guest's side of the ring indices); T stays in one page.
    template <typename T>
    T get(uint64_t gpa) {
        if (gpa % sizeof(T) == 0)
            return __atomic_load_n(reinterpret_cast<T*>(at(gpa)), __ATOMIC_SEQ_CST);
        T value;
        std::memcpy(&value, at(gpa), sizeof(T));
        return value;
    }
    template <typename T>
    void put(uint64_t gpa, T value) {
        if (gpa % sizeof(T) == 0)
            __atomic_store_n(reinterpret_cast<T*>(at(gpa)), value, __ATOMIC_SEQ_CST);
        else
            std::memcpy(at(gpa), &value, sizeof(T));
    }

    std::set<uint64_t> holes;   // page numbers that are not RAM
    std::set<uint64_t> touched; // pages the host read or wrote (multi-byte accesses)
    bool strict = false;
    bool track = true; // off in threaded tests
    std::atomic<uint64_t> reads{0};
    std::atomic<uint64_t> writes{0};

private:
    bool valid(uint64_t gpa, uint64_t size) {
        bool ok = is_ram(gpa, size);
        if (!ok && strict && size > 1) {
            std::fprintf(stderr, "host accessed %llu bytes at %#llx outside guest RAM\n",
                         static_cast<unsigned long long>(size),
                         static_cast<unsigned long long>(gpa));
            std::abort();
        }
        return ok;
    }
    void note(uint64_t gpa, uint64_t size) {
        if (track && size > 1)
            for (uint64_t page = gpa / kPage; page <= (gpa + size - 1) / kPage; ++page)
                touched.insert(page);
    }

    uint64_t size_;
    std::unordered_map<uint64_t, std::unique_ptr<uint8_t[]>> pages_;
};

class FakeSynic final : public hv::SynicDelivery {
public:
    struct Message {
        uint32_t vcpu;
        uint8_t sint;
        uint32_t type;
        std::vector<uint8_t> bytes;
    };
    struct Event {
        uint32_t vcpu;
        uint8_t sint;
        uint32_t flag;
    };

    hv::DeliveryResult post_message(uint32_t vcpu, uint8_t sint, uint32_t type,
                                    std::span<const uint8_t> payload) override {
        std::lock_guard<std::mutex> guard(lock);
        if (!enabled)
            return hv::DeliveryResult::not_enabled;
        if (full_for > 0) {
            --full_for;
            return hv::DeliveryResult::queue_full;
        }
        messages.push_back({vcpu, sint, type, {payload.begin(), payload.end()}});
        return hv::DeliveryResult::delivered;
    }
    hv::DeliveryResult signal_event(uint32_t vcpu, uint8_t sint, uint32_t flag) override {
        std::lock_guard<std::mutex> guard(lock);
        events.push_back({vcpu, sint, flag});
        return hv::DeliveryResult::delivered;
    }

    uint32_t events_for(uint32_t flag) const {
        uint32_t n = 0;
        for (const Event& event : events)
            n += event.flag == flag ? 1 : 0;
        return n;
    }

    std::deque<Message> messages;
    std::vector<Event> events;
    int full_for = 0; // the next post_message calls answer queue_full
    bool enabled = true;
    std::mutex lock; // vCPU threads signal concurrently
};

class RecordingLog final : public LogSink {
public:
    void line(LogLevel, const char* text) override {
        lines.emplace_back(text);
        if (echo)
            std::fprintf(stderr, "%s\n", text);
    }
    bool contains(const std::string& needle) const {
        for (const std::string& line : lines)
            if (line.find(needle) != std::string::npos)
                return true;
        return false;
    }
    size_t count(const std::string& needle) const {
        size_t n = 0;
        for (const std::string& line : lines)
            n += line.find(needle) != std::string::npos ? 1 : 0;
        return n;
    }
    std::vector<std::string> lines;
    bool echo = false;
};

inline Guid make_guid(uint8_t seed) {
    Guid guid;
    for (int i = 0; i < 16; ++i)
        guid.bytes[i] = static_cast<uint8_t>(seed * 16 + i);
    return guid;
}

// A VSP that records every packet and answers a request that asks for completion with a
// completion carrying the same payload (or `busy` when the guest's ring has no room).
class EchoDevice final : public ChannelDevice {
public:
    struct Seen {
        uint16_t subchannel;
        PacketType type;
        uint64_t transaction_id;
        bool completion_requested;
        std::vector<uint8_t> payload;
        std::vector<std::vector<uint64_t>> range_pages;
        std::vector<std::pair<uint32_t, uint32_t>> range_bytes; // {count, offset}
    };

    explicit EchoDevice(uint8_t seed, uint16_t max_subchannels = 0) {
        info_.interface_type = make_guid(seed);
        info_.instance = make_guid(static_cast<uint8_t>(seed + 1));
        info_.max_subchannels = max_subchannels;
    }

    const OfferInfo& offer() const override { return info_; }
    ErrorOr<void> on_open(uint16_t subchannel) override {
        opens.push_back(subchannel);
        if (fail_open)
            return Error(ErrorCode::io, "device refuses to open");
        return {};
    }
    void on_close(uint16_t subchannel) override { closes.push_back(subchannel); }
    ErrorOr<void> on_packet(uint16_t subchannel, const IncomingPacket& packet,
                            ChannelEndpoint& reply, GuestMemory&) override {
        if (fail_packets)
            return Error(ErrorCode::invalid_argument, "VSP protocol violation");
        if (during_packet)
            during_packet();
        if (packet.completion_requested && !reply.can_send(reply_size(packet)))
            return Error(ErrorCode::busy, "guest ring full");
        Seen seen{subchannel,
                  packet.type,
                  packet.transaction_id,
                  packet.completion_requested,
                  {packet.payload.begin(), packet.payload.end()},
                  {},
                  {}};
        for (const GpaRange& range : packet.ranges) {
            seen.range_pages.emplace_back(range.page_numbers.begin(), range.page_numbers.end());
            seen.range_bytes.emplace_back(range.byte_count, range.byte_offset);
        }
        packets.push_back(std::move(seen));
        if (host != nullptr && subchannel_request != 0) {
            TRY(host->offer_subchannels(*this, subchannel_request));
            subchannel_request = 0;
        }
        if (packet.completion_requested)
            TRY(reply.send_completion(packet.transaction_id,
                                      packet.payload.first(reply_size(packet))));
        return {};
    }

    uint32_t reply_size(const IncomingPacket& packet) const {
        return static_cast<uint32_t>(packet.payload.size() < echo_limit ? packet.payload.size()
                                                                        : echo_limit);
    }

    OfferInfo info_;
    std::vector<uint16_t> opens;
    std::vector<uint16_t> closes;
    std::vector<Seen> packets;
    bool fail_open = false;
    bool fail_packets = false;
    uint32_t echo_limit = 4096;
    VmbusHost* host = nullptr;
    uint16_t subchannel_request = 0;     // asked from the next packet
    std::function<void()> during_packet; // runs inside on_packet (another vCPU, say)
};

} // namespace vmbus_test
