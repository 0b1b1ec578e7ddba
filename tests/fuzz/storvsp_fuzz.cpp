// libFuzzer target: a hostile guest driving storvsp. The input is a script of steps — raw vstor
// packets with arbitrary payloads, packet types and GPA range lists on any channel, mixed with
// hot-add, hot-remove, resize, channel open/close and notification delivery — against a
// controller with in-memory disks and a small guest RAM (range lists reach past it).
//
// Input: byte 0 = options (bit 0: do Linux's init handshake first). Then steps:
//   0 packet:  sub, type, length (0..80), payload bytes, range count (0..3), per range
//              {byte_count u16, byte_offset u16, page count (0..19), page numbers u8}
//   1 attach:  lun (0..65), disk (0..2)      2 detach: lun      3 resize: lun, sectors u16
//   4 open/close: sub (0..3), bit 2 = close  5 deliver notifications
// Invariants checked after every step: a packet the VSP accepts is answered by exactly one
// completion for its transaction id, as long as the request (capped at 64 bytes), COMPLETE_IO,
// with at most 20 sense bytes; a refused packet sends nothing; nothing touches memory outside
// the guest RAM or the disks (ASan).
#include "vmm/vmbus/storvsp/controller.hpp"
#include "vmm/vmbus/storvsp/memory_block_device.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace halcyon;
using namespace halcyon::vmm;
using namespace halcyon::vmm::storvsp;

namespace {

constexpr size_t kRamBytes = 24 * 4096;

void check(bool condition, const char* what) {
    if (!condition) {
        std::fprintf(stderr, "storvsp_fuzz invariant broken: %s\n", what);
        std::abort();
    }
}

class Memory final : public vmbus::GuestMemory {
public:
    ErrorOr<void> read(uint64_t gpa, std::span<uint8_t> out) override {
        if (gpa > kRamBytes || out.size() > kRamBytes - gpa)
            return Error(ErrorCode::out_of_range, "outside");
        std::memcpy(out.data(), ram + gpa, out.size());
        return {};
    }
    ErrorOr<void> write(uint64_t gpa, std::span<const uint8_t> data) override {
        if (gpa > kRamBytes || data.size() > kRamBytes - gpa)
            return Error(ErrorCode::out_of_range, "outside");
        std::memcpy(ram + gpa, data.data(), data.size());
        return {};
    }
    uint8_t ram[kRamBytes] = {};
};

struct Sent {
    bool completion;
    uint64_t id;
    std::vector<uint8_t> payload;
};

class Endpoint final : public vmbus::ChannelEndpoint {
public:
    bool can_send(uint32_t bytes) const override { return bytes <= 64; }
    ErrorOr<void> send_completion(uint64_t id, std::span<const uint8_t> payload) override {
        sent.push_back({true, id, {payload.begin(), payload.end()}});
        return {};
    }
    ErrorOr<void> send_inband(uint64_t id, std::span<const uint8_t> payload, bool) override {
        check(payload.size() >= 12 && payload.size() <= 64, "notification size");
        sent.push_back({false, id, {payload.begin(), payload.end()}});
        return {};
    }
    std::vector<Sent> sent;
};

class Host final : public vmbus::ChannelHost {
public:
    ErrorOr<void> offer_subchannels(vmbus::ChannelDevice& device, uint16_t count) override {
        check(count >= 1 && count <= device.offer().max_subchannels, "sub-channel count");
        return {};
    }
    vmbus::ChannelEndpoint* endpoint(vmbus::ChannelDevice&, uint16_t) override { return nullptr; }
};

class Reader {
public:
    Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    bool empty() const { return at_ >= size_; }
    uint8_t u8() { return at_ < size_ ? data_[at_++] : 0; }
    uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
    std::span<const uint8_t> bytes(size_t n) {
        size_t take = n < size_ - at_ ? n : size_ - at_;
        std::span<const uint8_t> out(data_ + at_, take);
        at_ += take;
        return out;
    }

private:
    const uint8_t* data_;
    size_t size_;
    size_t at_ = 0;
};

struct World {
    World() {
        MemoryBlockDeviceOptions thin;
        thin.unmap_granularity = 8;
        disks[0] = new MemoryBlockDevice({storage0, sizeof(storage0)}, with(thin, 256));
        MemoryBlockDeviceOptions native;
        native.logical_sector_size = 4096;
        native.read_only = true;
        disks[1] = new MemoryBlockDevice({storage1, sizeof(storage1)}, with(native, 16));
        MemoryBlockDeviceOptions plain;
        disks[2] = new MemoryBlockDevice({storage2, sizeof(storage2)}, with(plain, 64));
        ControllerConfig config;
        config.max_subchannels = 3;
        controller = new Controller(host, config);
    }
    ~World() {
        delete controller;
        for (auto* disk : disks)
            delete disk;
    }
    static MemoryBlockDeviceOptions with(MemoryBlockDeviceOptions o, uint64_t sectors) {
        o.sector_count = sectors;
        return o;
    }

    uint8_t storage0[512 * 512] = {};
    uint8_t storage1[4096 * 32] = {};
    uint8_t storage2[512 * 128] = {};
    MemoryBlockDevice* disks[3] = {};
    Host host;
    Memory memory;
    Endpoint endpoints[4];
    Controller* controller = nullptr;
    uint64_t next_id = 1;
};

// Sends one packet and checks what came back.
void send(World& w, uint16_t sub, vmbus::PacketType type, bool completion_requested,
          std::span<const uint8_t> payload, std::span<const vmbus::GpaRange> ranges) {
    vmbus::IncomingPacket packet;
    packet.type = type;
    packet.completion_requested = completion_requested;
    packet.transaction_id = w.next_id++;
    packet.payload = payload;
    packet.ranges = ranges;
    Endpoint& endpoint = w.endpoints[sub];
    size_t before = endpoint.sent.size();
    auto status = w.controller->on_packet(sub, packet, endpoint, w.memory);
    if (status.is_error()) {
        check(status.error().message() != nullptr, "error without a message");
        check(endpoint.sent.size() == before, "a refused packet sent something");
        return;
    }
    size_t completions = 0;
    for (size_t i = before; i < endpoint.sent.size(); ++i) {
        const Sent& s = endpoint.sent[i];
        if (!s.completion) {
            check(s.id == 0 && s.payload[0] == 11, "unsolicited packet is ENUMERATE_BUS");
            continue;
        }
        ++completions;
        check(s.id == packet.transaction_id, "completion for the request");
        size_t expected = payload.size() < 64 ? payload.size() : 64;
        check(s.payload.size() == expected, "completion as long as the request");
        check(s.payload[0] == 1, "completion is COMPLETE_IO");
        // An SRB's completion never claims more sense than the SRB can carry.
        const bool srb = payload.size() >= 4 && payload[0] == 3 && payload[1] == 0 &&
                         payload[2] == 0 && payload[3] == 0;
        if (srb && s.payload.size() > 12 + 9)
            check(s.payload[12 + 9] <= 0x14, "sense length");
    }
    check(completions == 1, "exactly one completion");
    endpoint.sent.clear();
}

void linux_handshake(World& w) {
    (void)w.controller->on_open(0);
    const uint32_t ops[] = {7, 9, 10, 8};
    for (uint32_t op : ops) {
        uint8_t packet[64] = {};
        packet[0] = static_cast<uint8_t>(op);
        packet[4] = 1;
        if (op == 9) {
            packet[12] = 0x02;
            packet[13] = 0x06;
        }
        send(w, 0, vmbus::PacketType::data_inband, true, packet, {});
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    World w;
    Reader in(data, size);
    const uint8_t options = in.u8();
    (void)w.controller->attach(0, *w.disks[0]);
    if (options & 1)
        linux_handshake(w);
    else
        (void)w.controller->on_open(0);

    vmbus::GpaRange ranges[3];
    uint64_t pages[3][20];
    for (int steps = 0; !in.empty() && steps < 64; ++steps) {
        switch (in.u8() % 6) {
        case 0: {
            uint16_t sub = in.u8() & 3;
            uint8_t type_byte = in.u8();
            static const vmbus::PacketType kTypes[] = {
                vmbus::PacketType::data_inband, vmbus::PacketType::data_using_gpa_direct,
                vmbus::PacketType::completion, vmbus::PacketType::data_using_transfer_pages};
            vmbus::PacketType type = kTypes[type_byte & 3];
            bool completion_requested = !(type_byte & 4);
            std::span<const uint8_t> payload = in.bytes(in.u8() % 81);
            size_t count = in.u8() % 4;
            for (size_t r = 0; r < count; ++r) {
                ranges[r].byte_count = in.u16();
                ranges[r].byte_offset = in.u16() % 4200;
                size_t page_count = in.u8() % 20;
                for (size_t p = 0; p < page_count; ++p)
                    pages[r][p] = in.u8() % 32;
                ranges[r].page_numbers = {pages[r], page_count};
            }
            send(w, sub, type, completion_requested, payload, {ranges, count});
            break;
        }
        case 1: {
            uint8_t lun = in.u8() % 66;
            (void)w.controller->attach(lun, *w.disks[in.u8() % 3]);
            break;
        }
        case 2:
            (void)w.controller->detach(in.u8() % 66);
            break;
        case 3: {
            uint8_t lun = in.u8() % 66;
            (void)w.controller->resize(lun, uint64_t{in.u16()} * 512);
            break;
        }
        case 4: {
            uint8_t b = in.u8();
            if (b & 4)
                w.controller->on_close(b & 3);
            else
                (void)w.controller->on_open(b & 3);
            break;
        }
        case 5:
            (void)w.controller->deliver_notifications(w.endpoints[0]);
            w.endpoints[0].sent.clear();
            break;
        }
    }
    return 0;
}
