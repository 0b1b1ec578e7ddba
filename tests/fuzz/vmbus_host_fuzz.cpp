// libFuzzer target for the VMBus host: arbitrary sequences of guest messages (raw, and
// well-formed-looking ones with fuzzed fields), ring contents and signals, against a host whose
// guest has already connected and opened one channel (so the fuzzer starts deep in the
// protocol). Guest RAM is strict: a multi-byte host access outside it aborts, as do ASan/UBSan
// findings; a hang is a libFuzzer timeout.
//
// Input: a stream of operations, each an opcode byte followed by its operands (missing bytes
// read as zero).
#include "tests/unit/vmbus_test_support.hpp"

#include <memory>

using namespace vmbus_test;
namespace protocol = halcyon::vmm::vmbus::protocol;

namespace {

class QuietLog final : public LogSink {
public:
    void line(LogLevel, const char*) override {}
};

class Input {
public:
    Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    bool done() const { return at_ >= size_; }
    uint8_t u8() { return at_ < size_ ? data_[at_++] : 0; }
    uint16_t u16() { return static_cast<uint16_t>(u8() | u8() << 8); }
    uint32_t u32() { return u16() | static_cast<uint32_t>(u16()) << 16; }
    void bytes(uint8_t* out, size_t n) {
        for (size_t i = 0; i < n; ++i)
            out[i] = u8();
    }

private:
    const uint8_t* data_;
    size_t size_;
    size_t at_ = 0;
};

constexpr uint64_t kRam = 64ull << 20;
constexpr uint64_t kRingFirstPage = 0x100; // 4 + 4 pages of the preamble's channel
constexpr uint32_t kRingGpadl = 0xE1E10;

struct World {
    FakeGuestMemory mem{kRam};
    FakeSynic synic;
    QuietLog log;
    EchoDevice disk{0x10, 4};
    EchoDevice net{0x20};
    std::unique_ptr<VmbusHost> host;

    World() {
        mem.strict = true;
        mem.holes.insert(0x3000); // an MMIO gap inside RAM
        VmbusHostConfig config{2};
        config.reply_reserve_bytes = 64; // small: VSP answers can find the ring full (busy)
        host = std::make_unique<VmbusHost>(mem, synic, log, config);
        disk.host = host.get();
        (void)host->add_device(disk);
        (void)host->add_device(net);
    }

    void post(uint32_t connection, const void* message, size_t size) {
        (void)host->port_for(connection)
            ->on_message(0, 1,
                         std::span<const uint8_t>(static_cast<const uint8_t*>(message), size));
    }
    template <typename T>
    void post(const T& message, uint32_t connection = protocol::kMessageConnectionId) {
        post(connection, &message, sizeof(T));
    }

    // Connect at 5.3, take the offers, open relid 1 on an 8-page ring.
    void preamble() {
        protocol::InitiateContact contact{};
        contact.header.type = static_cast<uint32_t>(protocol::MessageType::initiate_contact);
        contact.version_requested = protocol::kVersionWin10V5_3;
        contact.interrupt_page_or_target_info = protocol::kMessageSint;
        post(contact, protocol::kMulticlientMessageConnectionId);
        protocol::HeaderOnlyMessage request{};
        request.header.type = static_cast<uint32_t>(protocol::MessageType::request_offers);
        post(request);
        uint8_t gpadl[sizeof(protocol::GpadlHeader) + 9 * 8] = {};
        protocol::GpadlHeader header{};
        header.header.type = static_cast<uint32_t>(protocol::MessageType::gpadl_header);
        header.child_relid = 1;
        header.gpadl = kRingGpadl;
        header.range_buffer_bytes = 9 * 8;
        header.range_count = 1;
        std::memcpy(gpadl, &header, sizeof(header));
        uint64_t entries[9] = {8 * kPage};
        for (int i = 0; i < 8; ++i)
            entries[1 + i] = kRingFirstPage + i;
        std::memcpy(gpadl + sizeof(header), entries, sizeof(entries));
        post(protocol::kMessageConnectionId, gpadl, sizeof(gpadl));
        protocol::OpenChannel open{};
        open.header.type = static_cast<uint32_t>(protocol::MessageType::open_channel);
        open.child_relid = 1;
        open.open_id = 1;
        open.ring_gpadl = kRingGpadl;
        open.downstream_ring_page_offset = 4;
        post(open);
        synic.messages.clear();
    }

    // A packet the way Linux writes it into the guest->host ring of the preamble's channel.
    void guest_packet(Input& in) {
        uint64_t control = kRingFirstPage * kPage;
        uint32_t size = 3 * kPage;
        uint32_t write = mem.get<uint32_t>(control) % size & ~7u;
        static constexpr uint16_t kTypes[] = {6, 9, 11};
        uint16_t type = kTypes[in.u8() % 3];
        uint8_t payload[256];
        uint32_t payload_size = in.u8();
        in.bytes(payload, payload_size);
        protocol::PacketDescriptor descriptor{};
        descriptor.type = type;
        descriptor.flags = in.u8() & 1;
        descriptor.transaction_id = in.u32();
        uint8_t packet[16 + 40 + 256 + 16] = {};
        uint32_t header = 16;
        if (type == 9) {
            // One range of up to 3 pages (trailing pfns of a shorter range are ignored).
            protocol::GpaDirectHeader gpa{0, 1};
            protocol::GpaRangeHeader range{in.u16() % 8192u + 1u, in.u8() * 16u};
            uint64_t pfns[3] = {in.u8(), in.u16(), in.u8() + 0x2000u};
            std::memcpy(packet + 16, &gpa, 8);
            std::memcpy(packet + 24, &range, 8);
            std::memcpy(packet + 32, pfns, sizeof(pfns));
            header = 56;
        }
        uint32_t length = (header + payload_size + 7) & ~7u;
        descriptor.offset8 = static_cast<uint16_t>(header / 8);
        descriptor.len8 = static_cast<uint16_t>(length / 8);
        std::memcpy(packet, &descriptor, sizeof(descriptor));
        std::memcpy(packet + header, payload, payload_size);
        uint64_t trailer = uint64_t{write} << 32;
        std::memcpy(packet + length, &trailer, 8);
        for (uint32_t i = 0; i < length + 8; ++i) {
            uint32_t at = (write + i) % size;
            *mem.at((kRingFirstPage + 1 + at / kPage) * kPage + at % kPage) = packet[i];
        }
        mem.put<uint32_t>(control, (write + length + 8) % size);
    }

    // A message with the right type and size whose fields come from the input (relids, ids and
    // page numbers from small ranges, so they sometimes mean something).
    void shaped_message(Input& in) {
        uint8_t message[protocol::kMaxMessageBytes] = {};
        uint32_t type = in.u8() % 25;
        std::memcpy(message, &type, 4);
        size_t size = 8;
        switch (static_cast<protocol::MessageType>(type)) {
        case protocol::MessageType::gpadl_header: {
            protocol::GpadlHeader header{};
            header.header.type = type;
            header.child_relid = in.u8() % 4;
            header.gpadl = in.u8() % 8;
            header.range_count = in.u8() % 3;
            uint32_t entries = in.u8() % 27;
            header.range_buffer_bytes = static_cast<uint16_t>(in.u8() % 2 ? entries * 8 : in.u16());
            std::memcpy(message, &header, sizeof(header));
            for (uint32_t i = 0; i < entries; ++i) {
                uint64_t entry = i == 0 ? uint64_t{in.u16()} * 64 : 0x200 + in.u8();
                std::memcpy(message + sizeof(header) + i * 8, &entry, 8);
            }
            size = sizeof(header) + entries * 8;
            break;
        }
        case protocol::MessageType::gpadl_body: {
            protocol::GpadlBody body{};
            body.header.type = type;
            body.gpadl = in.u8() % 8;
            std::memcpy(message, &body, sizeof(body));
            uint32_t entries = in.u8() % 29;
            for (uint32_t i = 0; i < entries; ++i) {
                uint64_t pfn = 0x200 + in.u8();
                std::memcpy(message + sizeof(body) + i * 8, &pfn, 8);
            }
            size = sizeof(body) + entries * 8;
            break;
        }
        case protocol::MessageType::open_channel: {
            protocol::OpenChannel open{};
            open.header.type = type;
            open.child_relid = in.u8() % 4;
            open.ring_gpadl = in.u8() % 8;
            open.downstream_ring_page_offset = in.u8() % 6;
            open.target_vp = in.u8() % 3;
            std::memcpy(message, &open, sizeof(open));
            size = sizeof(open);
            break;
        }
        default: {
            // Every other message: relid-like and id-like fields from the input.
            for (size_t i = 8; i < 40; i += 4) {
                uint32_t field = in.u8() % 2 ? in.u8() % 8 : in.u32();
                std::memcpy(message + i, &field, 4);
            }
            size = 8 + in.u8() % 40;
            if (type == static_cast<uint32_t>(protocol::MessageType::initiate_contact)) {
                uint32_t version = protocol::kSupportedVersions[in.u8() % 8];
                std::memcpy(message + 8, &version, 4);
                message[16] = protocol::kMessageSint;
                size = sizeof(protocol::InitiateContact);
            }
            break;
        }
        }
        post(in.u8() % 8 == 0 ? protocol::kMulticlientMessageConnectionId
                              : protocol::kMessageConnectionId,
             message, size);
    }

    void run(Input& in) {
        while (!in.done()) {
            switch (in.u8() % 11) {
            case 0: {
                uint8_t message[protocol::kMaxMessageBytes];
                uint32_t connection = in.u8() % 4 == 0 ? 4 : 1;
                size_t size = in.u8() % (sizeof(message) + 1);
                in.bytes(message, size);
                post(connection, message, size);
                break;
            }
            case 1:
            case 2:
                shaped_message(in);
                break;
            case 3: {
                hv::SynicPort* port = host->port_for(0x2000 + in.u8() % 8);
                if (port != nullptr)
                    (void)port->on_event(in.u8() % 3, in.u8());
                break;
            }
            case 4: {
                // Scribble on the preamble channel's rings (control words or data).
                uint64_t page = kRingFirstPage + in.u8() % 8;
                uint32_t offset = in.u8() % 2 ? (in.u8() % 17) * 4 : in.u16() % (kPage - 3);
                mem.put<uint32_t>(page * kPage + offset, in.u8() % 2 ? in.u32() : in.u8() * 8u);
                break;
            }
            case 5:
            case 6:
                guest_packet(in);
                (void)host->port_for(0x2001)->on_event(0, 0);
                break;
            case 7:
                if (in.u8() % 2) {
                    // The guest reads everything the host wrote, and maybe says so.
                    uint64_t control = (kRingFirstPage + 4) * kPage;
                    mem.put<uint32_t>(control + 4, mem.get<uint32_t>(control));
                    if (in.u8() % 2)
                        (void)host->port_for(0x2001)->on_event(0, 0);
                }
                host->poll();
                break;
            case 8:
                synic.full_for = in.u8() % 4;
                synic.enabled = in.u8() % 16 != 0;
                break;
            case 9:
                switch (in.u8() % 5) {
                case 0:
                    (void)host->rescind_device(in.u8() % 2 ? disk : net);
                    break;
                case 1:
                    (void)host->add_device(in.u8() % 2 ? disk : net);
                    break;
                case 2:
                    (void)host->offer_subchannels(disk, in.u8() % 6);
                    break;
                case 3:
                    disk.fail_packets = !disk.fail_packets;
                    break;
                default:
                    disk.subchannel_request = in.u8() % 5;
                    break;
                }
                break;
            default:
                if (in.u8() == 0xA5)
                    host->reset();
                else if (ChannelEndpoint* endpoint = host->endpoint(disk, 0)) {
                    uint8_t payload[64] = {};
                    (void)endpoint->send_inband(in.u32(), std::span(payload, in.u8() % 64), true);
                }
                break;
            }
            // The guest consumes its messages, as hv_vmbus would.
            if (synic.messages.size() > 64)
                synic.messages.clear();
        }
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto world = std::make_unique<World>();
    world->preamble();
    if (world->host->endpoint(world->disk, 0) == nullptr)
        __builtin_trap(); // the preamble must leave a channel open, else the fuzzer runs shallow
    Input in(data, size);
    world->run(in);
    return 0;
}
