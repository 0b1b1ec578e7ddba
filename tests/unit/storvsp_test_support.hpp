// Test harness for storvsp: plays Linux's hv_storvsc side of the channel with the driver's own
// wire structures (described here from storvsc_drv.c's layout: struct vstor_packet with the
// Windows 8 vmscsi_request), a guest memory that validates every access, a ring endpoint that
// records what the VSP sends, and a VMBus host that records sub-channel offers.
#pragma once

#include "vmm/vmbus/storvsp/controller.hpp"
#include "vmm/vmbus/storvsp/memory_block_device.hpp"
#include "vmm/vmbus/storvsp/protocol.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

namespace storvsp_test {

using namespace halcyon;
using namespace halcyon::vmm;
using namespace halcyon::vmm::storvsp;

#pragma pack(push, 1)
// struct vmscsi_request as Linux 6.1 sends it (0x34 bytes).
struct LinuxSrb {
    uint16_t length;
    uint8_t srb_status;
    uint8_t scsi_status;
    uint8_t port_number;
    uint8_t path_id;
    uint8_t target_id;
    uint8_t lun;
    uint8_t cdb_length;
    uint8_t sense_info_length;
    uint8_t data_in;
    uint8_t reserved;
    uint32_t data_transfer_length;
    uint8_t cdb_or_sense[20];
    uint16_t reserve;
    uint8_t queue_tag;
    uint8_t queue_action;
    uint32_t srb_flags;
    uint32_t time_out_value;
    uint32_t queue_sort_key;
};
struct LinuxChannelProperties {
    uint32_t reserved;
    uint16_t max_channel_cnt;
    uint16_t reserved1;
    uint32_t flags;
    uint32_t max_transfer_bytes;
    uint64_t reserved2;
};
// struct vstor_packet (64 bytes).
struct LinuxVstorPacket {
    uint32_t operation;
    uint32_t flags;
    uint32_t status;
    union {
        LinuxSrb srb;
        LinuxChannelProperties properties;
        struct {
            uint16_t major_minor;
            uint16_t revision;
        } version;
        uint16_t sub_channel_count;
        uint8_t buffer[0x34];
    };
};
#pragma pack(pop)
static_assert(sizeof(LinuxSrb) == 0x34);
static_assert(sizeof(LinuxVstorPacket) == 64);

inline constexpr uint32_t kRequestCompletionFlag = 1;
// Linux's SRB flags for a tagged command.
inline constexpr uint32_t kLinuxSrbFlags = 0x08 | 0x02 | 0x100;

inline std::vector<uint8_t> bytes_of(const LinuxVstorPacket& p) {
    std::vector<uint8_t> out(sizeof(p));
    std::memcpy(out.data(), &p, sizeof(p));
    return out;
}

// Guest RAM [0, size): every access outside it fails, as the host's GuestMemory does.
class FakeGuestMemory final : public vmbus::GuestMemory {
public:
    explicit FakeGuestMemory(size_t bytes) : ram(bytes, 0) {}
    ErrorOr<void> read(uint64_t gpa, std::span<uint8_t> out) override {
        if (!inside(gpa, out.size()))
            return Error(ErrorCode::out_of_range, "fake memory: outside RAM");
        std::memcpy(out.data(), ram.data() + gpa, out.size());
        ++reads;
        return {};
    }
    ErrorOr<void> write(uint64_t gpa, std::span<const uint8_t> data) override {
        if (!inside(gpa, data.size()))
            return Error(ErrorCode::out_of_range, "fake memory: outside RAM");
        std::memcpy(ram.data() + gpa, data.data(), data.size());
        ++writes;
        return {};
    }
    bool inside(uint64_t gpa, uint64_t size) const {
        return gpa <= ram.size() && size <= ram.size() - gpa;
    }
    std::vector<uint8_t> ram;
    uint64_t reads = 0;
    uint64_t writes = 0;
};

struct SentPacket {
    bool completion = false;
    uint64_t transaction_id = 0;
    bool completion_requested = false;
    std::vector<uint8_t> payload;
};

class FakeEndpoint final : public vmbus::ChannelEndpoint {
public:
    bool can_send(uint32_t payload_bytes) const override {
        return room && payload_bytes <= vmm::storvsp::protocol::kMaxPacketBytes;
    }
    ErrorOr<void> send_completion(uint64_t transaction_id,
                                  std::span<const uint8_t> payload) override {
        sent.push_back({true, transaction_id, false, {payload.begin(), payload.end()}});
        return {};
    }
    ErrorOr<void> send_inband(uint64_t transaction_id, std::span<const uint8_t> payload,
                              bool completion_requested) override {
        sent.push_back(
            {false, transaction_id, completion_requested, {payload.begin(), payload.end()}});
        return {};
    }
    bool room = true;
    std::vector<SentPacket> sent;
};

class FakeHost final : public vmbus::ChannelHost {
public:
    ErrorOr<void> offer_subchannels(vmbus::ChannelDevice& device, uint16_t count) override {
        if (count > device.offer().max_subchannels || fail)
            return Error(ErrorCode::invalid_argument, "fake host: refused");
        offers.push_back(count);
        return {};
    }
    vmbus::ChannelEndpoint* endpoint(vmbus::ChannelDevice&, uint16_t subchannel) override {
        return subchannel < endpoints.size() ? endpoints[subchannel] : nullptr;
    }
    bool fail = false;
    std::vector<vmbus::ChannelEndpoint*> endpoints;
    std::vector<uint16_t> offers;
};

// A completion decoded as Linux reads it.
struct Reply {
    uint32_t operation = 0;
    uint32_t status = 0;
    size_t size = 0;
    LinuxSrb srb{};
    uint8_t sense_key() const { return srb.cdb_or_sense[2] & 0xF; }
    uint8_t asc() const { return srb.cdb_or_sense[12]; }
    uint8_t ascq() const { return srb.cdb_or_sense[13]; }
    bool good() const { return srb.srb_status == 0x01 && srb.scsi_status == 0; }
    bool check_condition(uint8_t key, uint8_t code, uint8_t qualifier) const {
        return srb.scsi_status == 0x02 && (srb.srb_status & 0x80) && sense_key() == key &&
               asc() == code && ascq() == qualifier;
    }
};

// A GPA buffer in guest RAM (page list computed like storvsc_queuecommand does).
struct GuestRange {
    uint64_t gpa = 0;
    uint32_t length = 0;
};

class Harness {
public:
    static constexpr size_t kRamBytes = 4 << 20;

    explicit Harness(uint16_t max_subchannels = 4)
        : memory(kRamBytes), controller(host, config(max_subchannels)) {}

    static ControllerConfig config(uint16_t max_subchannels) {
        ControllerConfig c;
        c.instance.bytes[0] = 0x42;
        c.max_subchannels = max_subchannels;
        return c;
    }

    // Sends one packet on `subchannel`; the reply (if any) is decoded from the last packet sent.
    ErrorOr<void> send_raw(std::span<const uint8_t> payload,
                           std::span<const vmbus::GpaRange> ranges = {}, uint16_t subchannel = 0,
                           bool completion_requested = true,
                           vmbus::PacketType type = vmbus::PacketType::data_inband) {
        vmbus::IncomingPacket packet;
        packet.type = ranges.empty() ? type : vmbus::PacketType::data_using_gpa_direct;
        packet.completion_requested = completion_requested;
        packet.transaction_id = ++next_transaction;
        packet.payload = payload;
        packet.ranges = ranges;
        return controller.on_packet(subchannel, packet, endpoint(subchannel), memory);
    }

    FakeEndpoint& endpoint(uint16_t subchannel) {
        if (subchannel >= endpoints.size())
            endpoints.resize(subchannel + 1);
        return endpoints[subchannel];
    }

    Reply last_reply(uint16_t subchannel = 0) {
        Reply reply;
        // The newest completion (a notification may have followed it).
        auto& sent = endpoint(subchannel).sent;
        auto it = std::find_if(sent.rbegin(), sent.rend(),
                               [](const SentPacket& p) { return p.completion; });
        EXPECT_TRUE(it != sent.rend());
        if (it == sent.rend())
            return reply;
        const SentPacket& p = *it;
        EXPECT_EQ(p.transaction_id, next_transaction);
        reply.size = p.payload.size();
        LinuxVstorPacket v{};
        std::memcpy(&v, p.payload.data(), std::min(p.payload.size(), sizeof(v)));
        reply.operation = v.operation;
        reply.status = v.status;
        reply.srb = v.srb;
        return reply;
    }

    Reply operation(uint32_t op, uint16_t subchannel = 0) {
        LinuxVstorPacket p{};
        p.operation = op;
        p.flags = kRequestCompletionFlag;
        auto bytes = bytes_of(p);
        EXPECT_FALSE(send_raw(bytes, {}, subchannel).is_error());
        return last_reply(subchannel);
    }

    Reply query_version(uint16_t version) {
        LinuxVstorPacket p{};
        p.operation = 9;
        p.flags = kRequestCompletionFlag;
        p.version.major_minor = version;
        auto bytes = bytes_of(p);
        EXPECT_FALSE(send_raw(bytes).is_error());
        return last_reply();
    }

    Reply create_sub_channels(uint16_t count) {
        LinuxVstorPacket p{};
        p.operation = 13;
        p.flags = kRequestCompletionFlag;
        p.sub_channel_count = count;
        auto bytes = bytes_of(p);
        EXPECT_FALSE(send_raw(bytes).is_error());
        return last_reply();
    }

    // storvsc_channel_init(): returns the properties reply.
    LinuxChannelProperties initialize(std::initializer_list<uint16_t> versions = {0x0602, 0x0600,
                                                                                  0x0501}) {
        EXPECT_FALSE(controller.on_open(0).is_error());
        Reply r = operation(7);
        EXPECT_EQ(r.status, 0u);
        EXPECT_EQ(r.operation, 1u);
        bool accepted = false;
        for (uint16_t v : versions) {
            r = query_version(v);
            EXPECT_EQ(r.operation, 1u);
            if (r.status == 0) {
                accepted = true;
                break;
            }
        }
        EXPECT_TRUE(accepted);
        r = operation(10);
        EXPECT_EQ(r.status, 0u);
        LinuxVstorPacket p{};
        std::memcpy(&p, endpoint(0).sent.back().payload.data(), sizeof(p));
        r = operation(8);
        EXPECT_EQ(r.status, 0u);
        EXPECT_TRUE(controller.ready());
        return p.properties;
    }

    // storvsc_queuecommand() for `cdb` at `lun` with a data buffer in guest RAM.
    Reply scsi(std::initializer_list<uint8_t> cdb, uint8_t lun, uint8_t data_in,
               GuestRange buffer = {}, uint16_t subchannel = 0, uint8_t cdb_length = 0,
               uint8_t path = 0, uint8_t target = 0) {
        LinuxVstorPacket p = srb_packet(cdb, lun, data_in, buffer.length, cdb_length);
        p.srb.path_id = path;
        p.srb.target_id = target;
        return execute(p, buffer, subchannel);
    }

    static LinuxVstorPacket srb_packet(std::initializer_list<uint8_t> cdb, uint8_t lun,
                                       uint8_t data_in, uint32_t length, uint8_t cdb_length = 0) {
        LinuxVstorPacket p{};
        p.operation = 3;
        p.flags = kRequestCompletionFlag;
        p.srb.length = sizeof(LinuxSrb);
        p.srb.lun = lun;
        p.srb.cdb_length = cdb_length != 0 ? cdb_length : static_cast<uint8_t>(cdb.size());
        p.srb.sense_info_length = 0x14;
        p.srb.data_in = data_in;
        p.srb.data_transfer_length = length;
        p.srb.time_out_value = 60;
        p.srb.srb_flags = kLinuxSrbFlags | (data_in == 1 ? 0x40 : data_in == 0 ? 0x80 : 0);
        p.srb.queue_tag = 0xFF;
        p.srb.queue_action = 0x20;
        std::copy(cdb.begin(), cdb.end(), p.srb.cdb_or_sense);
        return p;
    }

    Reply execute(const LinuxVstorPacket& p, GuestRange buffer, uint16_t subchannel = 0) {
        auto bytes = bytes_of(p);
        if (buffer.length == 0) {
            EXPECT_FALSE(send_raw(bytes, {}, subchannel).is_error());
            return last_reply(subchannel);
        }
        pages = pages_for(buffer);
        vmbus::GpaRange range;
        range.byte_count = buffer.length;
        range.byte_offset = static_cast<uint32_t>(buffer.gpa % 4096);
        range.page_numbers = pages;
        auto status = send_raw(bytes, {&range, 1}, subchannel);
        EXPECT_FALSE(status.is_error()) << (status.is_error() ? status.error().message() : "");
        return last_reply(subchannel);
    }

    static std::vector<uint64_t> pages_for(GuestRange buffer) {
        std::vector<uint64_t> list;
        uint64_t first = buffer.gpa / 4096;
        uint64_t last = (buffer.gpa + buffer.length - 1) / 4096;
        for (uint64_t page = first; page <= last; ++page)
            list.push_back(page);
        return list;
    }

    std::span<uint8_t> ram(uint64_t gpa, size_t length) {
        return {memory.ram.data() + gpa, length};
    }

    FakeHost host;
    FakeGuestMemory memory;
    Controller controller;
    std::vector<FakeEndpoint> endpoints{1};
    std::vector<uint64_t> pages;
    uint64_t next_transaction = 100;
};

// An in-memory disk with its own storage (room for `storage_sectors`, so it can grow).
struct MemoryDisk {
    explicit MemoryDisk(uint64_t sectors, MemoryBlockDeviceOptions options = {},
                        uint64_t storage_sectors = 0)
        : storage((storage_sectors > sectors ? storage_sectors : sectors) *
                      options.logical_sector_size,
                  0),
          device(storage, with_count(options, sectors)) {}
    static MemoryBlockDeviceOptions with_count(MemoryBlockDeviceOptions options, uint64_t sectors) {
        options.sector_count = sectors;
        return options;
    }
    std::vector<uint8_t> storage;
    MemoryBlockDevice device;
};

} // namespace storvsp_test
