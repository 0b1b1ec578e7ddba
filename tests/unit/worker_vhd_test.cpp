// The VHD verbs' pieces that run in the core but are pure: the rules (one datastore file under
// two names, which attachments may share a file, Hyper-V's integration-service status) and the
// locked SCSI controller that lets the management CPU hot-add, hot-remove and resize disks
// while vCPUs on other CPUs drive the controller.
#include "storvsp_test_support.hpp"
#include "vmm/worker/locked_scsi_controller.hpp"
#include "vmm/worker/vm_manager_vhd_rules.hpp"

#include <atomic>
#include <mutex>
#include <thread>

namespace {

using namespace storvsp_test;
using halcyon::mgmt::IntegrationStatus;
using halcyon::vmm::vmbus::ic::HeartbeatStatus;
using halcyon::vmm::vmbus::ic::IcState;
using halcyon::vmm::vmbus::ic::IcStatus;
using halcyon::worker::LockedScsiController;

TEST(WorkerVhdRules, SameDatastoreFile) {
    using halcyon::worker::same_datastore_file;
    EXPECT_TRUE(same_datastore_file("ds:/vms/a.vhdx", "ds:vms/a.vhdx"));
    EXPECT_TRUE(same_datastore_file("ds:/VMS/A.vhdx", "ds:/vms/a.VHDX")); // exFAT ignores case
    EXPECT_TRUE(same_datastore_file("ds://vms/a.vhdx", "ds:/vms/a.vhdx"));
    EXPECT_FALSE(same_datastore_file("ds:/vms/a.vhdx", "ds:/vms/b.vhdx"));
    EXPECT_FALSE(same_datastore_file("ds:/vms/a.vhdx", "ds:/vms/a.vhdx2"));
    EXPECT_FALSE(same_datastore_file("a.vhdx", "a.vhdx")); // boot modules are not on it
    EXPECT_FALSE(same_datastore_file("ds:/a.vhdx", "a.vhdx"));
}

TEST(WorkerVhdRules, OnlyReadersShare) {
    using halcyon::worker::may_share;
    EXPECT_TRUE(may_share(true, true));
    EXPECT_FALSE(may_share(true, false));
    EXPECT_FALSE(may_share(false, true));
    EXPECT_FALSE(may_share(false, false));
}

TEST(WorkerVhdRules, IntegrationStatus) {
    using halcyon::worker::heartbeat_status;
    using halcyon::worker::integration_status;
    IcStatus status;
    EXPECT_EQ(integration_status(status), IntegrationStatus::no_contact); // no driver yet
    status.state = IcState::negotiating;
    EXPECT_EQ(integration_status(status), IntegrationStatus::no_contact);
    status.state = IcState::ready;
    status.responses = 3;
    EXPECT_EQ(integration_status(status), IntegrationStatus::ok);
    status.request_overdue = true;
    EXPECT_EQ(integration_status(status), IntegrationStatus::lost_communication);
    status.request_overdue = false;
    status.state = IcState::closed; // answered before, then the driver went away
    EXPECT_EQ(integration_status(status), IntegrationStatus::lost_communication);
    status.state = IcState::incompatible;
    EXPECT_EQ(integration_status(status), IntegrationStatus::protocol_mismatch);

    IcStatus ready;
    ready.state = IcState::ready;
    EXPECT_EQ(heartbeat_status(ready, HeartbeatStatus::ok), IntegrationStatus::ok);
    EXPECT_EQ(heartbeat_status(ready, HeartbeatStatus::lost_communication),
              IntegrationStatus::lost_communication);
    EXPECT_EQ(heartbeat_status(ready, HeartbeatStatus::error),
              IntegrationStatus::lost_communication);
    IcStatus closed;
    EXPECT_EQ(heartbeat_status(closed, HeartbeatStatus::no_contact), IntegrationStatus::no_contact);
    closed.state = IcState::incompatible;
    EXPECT_EQ(heartbeat_status(closed, HeartbeatStatus::error),
              IntegrationStatus::protocol_mismatch);
}

// A VMBus host for the wrapper: records which device asked, hands out endpoints.
class RecordingHost final : public vmbus::ChannelHost {
public:
    ErrorOr<void> offer_subchannels(vmbus::ChannelDevice& device, uint16_t count) override {
        askers.push_back(&device);
        if (count > device.offer().max_subchannels)
            return Error(ErrorCode::invalid_argument, "too many");
        return {};
    }
    vmbus::ChannelEndpoint* endpoint(vmbus::ChannelDevice& device, uint16_t subchannel) override {
        askers.push_back(&device);
        return subchannel == 0 && open ? &primary : nullptr;
    }
    std::vector<vmbus::ChannelDevice*> askers;
    FakeEndpoint primary;
    bool open = true;
};

class LockedScsi : public ::testing::Test {
protected:
    LockedScsi() : disk0(1024, {}, 8192), disk1(2048), scsi(host, Harness::config(2)) {}

    Reply send(const LinuxVstorPacket& p, GuestRange buffer = {}) {
        auto bytes = bytes_of(p);
        vmbus::IncomingPacket packet;
        packet.completion_requested = true;
        packet.transaction_id = ++transaction;
        packet.payload = bytes;
        std::vector<uint64_t> pages;
        vmbus::GpaRange range;
        if (buffer.length != 0) {
            packet.type = vmbus::PacketType::data_using_gpa_direct;
            for (uint64_t page = buffer.gpa / 4096; page * 4096 < buffer.gpa + buffer.length;
                 ++page)
                pages.push_back(page);
            range.byte_count = buffer.length;
            range.byte_offset = uint32_t(buffer.gpa % 4096);
            range.page_numbers = pages;
            packet.ranges = {&range, 1};
        }
        EXPECT_FALSE(scsi.on_packet(0, packet, host.primary, memory).is_error());
        Reply reply;
        const SentPacket& sent = host.primary.sent.back();
        LinuxVstorPacket v{};
        std::memcpy(&v, sent.payload.data(), std::min(sent.payload.size(), sizeof(v)));
        reply.operation = v.operation;
        reply.status = v.status;
        reply.srb = v.srb;
        return reply;
    }
    Reply operation(uint32_t op, uint16_t version = 0) {
        LinuxVstorPacket p{};
        p.operation = op;
        p.flags = kRequestCompletionFlag;
        p.version.major_minor = version;
        return send(p);
    }
    void initialize() {
        ASSERT_FALSE(scsi.on_open(0).is_error());
        EXPECT_EQ(operation(7).status, 0u);
        EXPECT_EQ(operation(9, 0x0602).status, 0u);
        EXPECT_EQ(operation(10).status, 0u);
        EXPECT_EQ(operation(8).status, 0u);
        EXPECT_TRUE(scsi.with_controller([](Controller& c) { return c.ready(); }));
    }
    Reply tur(uint8_t lun) { return send(Harness::srb_packet({0x00, 0, 0, 0, 0, 0}, lun, 2, 0)); }

    FakeGuestMemory memory{Harness::kRamBytes};
    MemoryDisk disk0;
    MemoryDisk disk1;
    RecordingHost host;
    LockedScsiController scsi;
    uint64_t transaction = 0;
};

TEST_F(LockedScsi, TheVmbusHostOnlyEverSeesTheWrapper) {
    EXPECT_EQ(scsi.offer().max_subchannels, 2);
    ASSERT_FALSE(
        scsi.with_controller([&](Controller& c) { return c.attach(0, disk0.device); }).is_error());
    initialize();
    LinuxVstorPacket create{};
    create.operation = 13; // CREATE_SUB_CHANNELS, after END_INITIALIZATION as Linux does
    create.flags = kRequestCompletionFlag;
    create.sub_channel_count = 2;
    EXPECT_EQ(send(create).status, 0u);
    ASSERT_FALSE(
        scsi.with_controller([&](Controller& c) { return c.attach(1, disk1.device); }).is_error());
    scsi.deliver_notifications();
    ASSERT_FALSE(host.askers.empty());
    for (vmbus::ChannelDevice* asker : host.askers)
        EXPECT_EQ(asker, static_cast<vmbus::ChannelDevice*>(&scsi));
}

TEST_F(LockedScsi, HotAddNotifiesAtOnceOrWhenTheRingHasRoom) {
    ASSERT_FALSE(
        scsi.with_controller([&](Controller& c) { return c.attach(0, disk0.device); }).is_error());
    initialize();
    host.primary.sent.clear();
    host.primary.room = false; // the guest's ring is full
    ASSERT_FALSE(
        scsi.with_controller([&](Controller& c) { return c.attach(1, disk1.device); }).is_error());
    scsi.deliver_notifications();
    EXPECT_TRUE(host.primary.sent.empty());
    EXPECT_TRUE(scsi.with_controller([](Controller& c) { return c.notification_pending(); }));
    host.primary.room = true;
    scsi.deliver_notifications(); // the next tick
    ASSERT_EQ(host.primary.sent.size(), 1u);
    EXPECT_EQ(host.primary.sent[0].payload[0], 11); // ENUMERATE_BUS
    EXPECT_EQ(host.primary.sent[0].transaction_id, 0u);
    scsi.deliver_notifications(); // nothing more pending
    EXPECT_EQ(host.primary.sent.size(), 1u);
    host.open = false; // a closed primary channel: nothing to send on, nothing breaks
    ASSERT_FALSE(scsi.with_controller([&](Controller& c) { return c.detach(1); }).is_error());
    scsi.deliver_notifications();
    EXPECT_EQ(host.primary.sent.size(), 1u);
}

TEST_F(LockedScsi, OnlineResizeRaisesCapacityChanged) {
    ASSERT_FALSE(
        scsi.with_controller([&](Controller& c) { return c.attach(0, disk0.device); }).is_error());
    initialize();
    ASSERT_FALSE(
        scsi.with_controller([&](Controller& c) { return c.resize(0, 2048 * 512); }).is_error());
    scsi.deliver_notifications();
    EXPECT_TRUE(tur(0).check_condition(6, 0x2A, 0x09));
    EXPECT_TRUE(tur(0).good());
    EXPECT_EQ(disk0.device.sector_count(), 2048u);
}

// The management CPU hot-adds, hot-removes and resizes while a vCPU thread sends commands: every
// command gets a well-formed answer and nothing is touched outside the lock (ASan/UBSan).
TEST_F(LockedScsi, ManagementAndGuestConcurrently) {
    ASSERT_FALSE(
        scsi.with_controller([&](Controller& c) { return c.attach(0, disk0.device); }).is_error());
    initialize();
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> answered{0};
    std::thread guest([&] {
        while (!stop.load()) {
            // READ CAPACITY(10) of LUN 0 and TEST UNIT READY of LUN 1, over and over.
            for (uint8_t lun : {0, 1}) {
                LinuxVstorPacket p =
                    lun == 0 ? Harness::srb_packet({0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0, 1, 8)
                             : Harness::srb_packet({0, 0, 0, 0, 0, 0}, 1, 2, 0);
                auto bytes = bytes_of(p);
                vmbus::IncomingPacket packet;
                packet.completion_requested = true;
                packet.transaction_id = 1;
                packet.payload = bytes;
                uint64_t page = 0x10;
                vmbus::GpaRange range{8, 0, {&page, 1}};
                if (lun == 0) {
                    packet.type = vmbus::PacketType::data_using_gpa_direct;
                    packet.ranges = {&range, 1};
                }
                if (!scsi.on_packet(0, packet, host.primary, memory).is_error())
                    answered.fetch_add(1);
            }
        }
    });
    // At least 300 rounds, and on until the guest thread has had 500 commands answered in
    // between (on a loaded machine it may start late).
    for (int round = 0; round < 300 || (answered.load() < 500 && round < 1'000'000); ++round) {
        ASSERT_FALSE(scsi.with_controller([&](Controller& c) { return c.attach(1, disk1.device); })
                         .is_error());
        scsi.deliver_notifications();
        ASSERT_FALSE(scsi.with_controller([&](Controller& c) {
                             return c.resize(0, (1024 + uint64_t(round % 2) * 1024) * 512);
                         })
                         .is_error());
        scsi.deliver_notifications();
        ASSERT_FALSE(scsi.with_controller([&](Controller& c) { return c.detach(1); }).is_error());
        scsi.deliver_notifications();
    }
    stop.store(true);
    guest.join();
    EXPECT_GE(answered.load(), 500u);
    // Every packet sent (completions and notifications) is a whole 64-byte vstor packet.
    for (const SentPacket& sent : host.primary.sent)
        EXPECT_EQ(sent.payload.size(), 64u);
}

} // namespace
