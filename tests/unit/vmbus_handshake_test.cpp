// Channel management against a simulated Linux 6.1 guest: version negotiation, offers,
// sub-channels, rescind, unload and reconnect, and the message outbox when the guest's SynIC
// has no room.
#include "tests/unit/vmbus_linux_guest.hpp"

#include <memory>

namespace vmbus_test {
namespace {

using linux_abi::version;

struct VmbusHandshake : ::testing::Test {
    FakeGuestMemory mem{256 << 20};
    FakeSynic synic;
    RecordingLog log;
    VmbusHostConfig config{4, version(5, 3), 512};
    std::unique_ptr<VmbusHost> host;
    EchoDevice disk{0x10, 4};
    EchoDevice net{0x20};

    void make_host() { host = std::make_unique<VmbusHost>(mem, synic, log, config); }
    void SetUp() override {
        make_host();
        ASSERT_FALSE(host->add_device(disk).is_error());
        ASSERT_FALSE(host->add_device(net).is_error());
    }
    LinuxGuest guest() { return LinuxGuest(*host, mem, synic); }
};

TEST_F(VmbusHandshake, LinuxNegotiatesVersion53OnConnectionFourAndUsesTheAnsweredId) {
    LinuxGuest linux_guest = guest();
    linux_guest.connect_vcpu = 2;
    auto response = linux_guest.negotiate(version(5, 3));
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->version_supported, 1);
    EXPECT_EQ(response->connection_state, 0);
    EXPECT_EQ(response->msg_conn_id, 1u);
    EXPECT_EQ(linux_guest.last_vcpu, 2u) << "answered on the vCPU the guest named";
    EXPECT_TRUE(host->connected());
    EXPECT_EQ(host->version(), version(5, 3));
}

TEST_F(VmbusHandshake, EveryLinuxVersionFromWin8OnIsAccepted) {
    for (uint32_t v : linux_abi::kLinuxVersions) {
        make_host();
        LinuxGuest linux_guest = guest();
        auto response = linux_guest.negotiate(v);
        ASSERT_TRUE(response.has_value()) << std::hex << v;
        EXPECT_EQ(response->version_supported, 1) << std::hex << v;
        // Before 5.0 the field carries the version; from 5.0 the message connection id.
        EXPECT_EQ(response->msg_conn_id, v >= version(5, 0) ? 1u : v);
    }
}

TEST_F(VmbusHandshake, OldAndUnknownVersionsAreRefused) {
    for (uint32_t v : {version(0, 13), version(1, 1), version(6, 0), version(5, 4), 0u}) {
        LinuxGuest linux_guest = guest();
        auto response = linux_guest.negotiate(v);
        ASSERT_TRUE(response.has_value());
        EXPECT_EQ(response->version_supported, 0) << std::hex << v;
        EXPECT_FALSE(host->connected());
    }
}

TEST_F(VmbusHandshake, LinuxFallsBackToTheHostsNewestVersion) {
    config.max_version = version(4, 0);
    make_host();
    LinuxGuest linux_guest = guest();
    EXPECT_EQ(linux_guest.connect(), version(4, 0));
    EXPECT_EQ(linux_guest.msg_conn_id, 1u);
    EXPECT_EQ(host->version(), version(4, 0));
}

TEST_F(VmbusHandshake, Win8ContactIgnoresTargetVcpuAndAnswersOnVcpuZero) {
    LinuxGuest linux_guest = guest();
    linux_guest.connect_vcpu = 3;
    auto response = linux_guest.negotiate(version(2, 4));
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->version_supported, 1);
    EXPECT_EQ(linux_guest.last_vcpu, 0u);
}

TEST_F(VmbusHandshake, ContactNamingAMissingVcpuIsRefusedOnTheSendersVcpu) {
    LinuxGuest linux_guest = guest();
    linux_guest.connect_vcpu = 9; // the VM has 4
    auto response = linux_guest.negotiate(version(5, 3));
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->version_supported, 0);
    EXPECT_FALSE(host->connected());
    EXPECT_TRUE(log.contains("target vCPU 9"));
}

TEST_F(VmbusHandshake, OffersCarryWhatLinuxNeedsToSignalWithHypercalls) {
    LinuxGuest linux_guest = guest();
    std::vector<Offer> offers = linux_guest.boot();
    ASSERT_EQ(offers.size(), 2u);
    EXPECT_EQ(offers[0].type, disk.offer().interface_type);
    EXPECT_EQ(offers[0].instance, disk.offer().instance);
    EXPECT_EQ(offers[1].type, net.offer().interface_type);
    for (const Offer& offer : offers) {
        EXPECT_NE(offer.relid, 0u);
        EXPECT_EQ(offer.connection_id, 0x2000u + offer.relid);
        EXPECT_FALSE(offer.monitor_allocated) << "Linux must use HvSignalEvent";
        EXPECT_TRUE(offer.dedicated);
        EXPECT_EQ(offer.subchannel, 0);
        EXPECT_EQ(host->port_for(offer.connection_id) != nullptr, true);
    }
    EXPECT_NE(offers[0].relid, offers[1].relid);
    EXPECT_FALSE(linux_guest.has_message());
}

TEST_F(VmbusHandshake, PortsCoverTheMessageIdsAndEveryChannel) {
    auto ports = host->ports();
    ASSERT_EQ(ports.size(), VmbusHost::kPortCount);
    EXPECT_EQ(ports[0].connection_id, 1u);
    EXPECT_EQ(ports[1].connection_id, 4u);
    for (size_t i = 2; i < ports.size(); ++i)
        EXPECT_EQ(ports[i].connection_id, 0x2000u + (i - 1));
    EXPECT_EQ(host->port_for(2), nullptr);
}

TEST_F(VmbusHandshake, MessagesBeforeContactAreRefused) {
    LinuxGuest linux_guest = guest();
    linux_abi::message_header request{linux_abi::REQUESTOFFERS, 0};
    EXPECT_EQ(linux_guest.post(request), hv::PortStatus::success);
    EXPECT_FALSE(linux_guest.has_message());
    EXPECT_TRUE(log.contains("has not negotiated"));
}

TEST_F(VmbusHandshake, UnloadClosesEverythingAndTheGuestReconnects) {
    LinuxGuest linux_guest = guest();
    std::vector<Offer> offers = linux_guest.boot();
    LinuxChannel channel = linux_guest.open(offers[0], 4, 4);
    ASSERT_EQ(channel.status, 0u);
    ASSERT_EQ(host->gpadls().count(), 1u);

    linux_abi::message_header unload{linux_abi::UNLOAD, 0};
    EXPECT_EQ(linux_guest.post(unload), hv::PortStatus::success);
    linux_guest.expect<linux_abi::message_header>(linux_abi::UNLOAD_RESPONSE);
    EXPECT_FALSE(host->connected());
    EXPECT_EQ(disk.closes.size(), 1u);
    EXPECT_EQ(host->gpadls().count(), 0u);

    // A kexec'd kernel starts over.
    LinuxGuest second = guest();
    std::vector<Offer> again = second.boot();
    ASSERT_EQ(again.size(), 2u);
    EXPECT_EQ(again[0].relid, offers[0].relid);
    LinuxChannel reopened = second.open(again[0], 2, 2);
    EXPECT_EQ(reopened.status, 0u);
}

TEST_F(VmbusHandshake, ContactWhileConnectedStartsAFreshConnection) {
    LinuxGuest linux_guest = guest();
    std::vector<Offer> offers = linux_guest.boot();
    LinuxChannel channel = linux_guest.open(offers[1], 2, 2);
    ASSERT_EQ(channel.status, 0u);
    LinuxGuest crash_kernel = guest();
    EXPECT_EQ(crash_kernel.boot().size(), 2u);
    EXPECT_EQ(net.closes.size(), 1u);
}

TEST_F(VmbusHandshake, RescindSendsOneMessagePerChannelAndWaitsForRelease) {
    disk.host = host.get();
    LinuxGuest linux_guest = guest();
    std::vector<Offer> offers = linux_guest.boot();
    LinuxChannel primary = linux_guest.open(offers[0], 2, 2);
    ASSERT_EQ(primary.status, 0u);
    ASSERT_FALSE(host->offer_subchannels(disk, 2).is_error());
    host->poll();
    Offer sub1 = linux_guest.take_offer();
    Offer sub2 = linux_guest.take_offer();
    EXPECT_EQ(sub1.subchannel, 1);
    EXPECT_EQ(sub2.subchannel, 2);
    EXPECT_EQ(sub1.type, offers[0].type);
    EXPECT_EQ(sub1.instance, offers[0].instance);
    LinuxChannel sub = linux_guest.open(sub1, 2, 2);
    ASSERT_EQ(sub.status, 0u);

    ASSERT_FALSE(host->rescind_device(disk).is_error());
    std::set<uint32_t> rescinded;
    for (int i = 0; i < 3; ++i)
        rescinded.insert(
            linux_guest.expect<linux_abi::relid_only>(linux_abi::RESCIND_CHANNELOFFER).child_relid);
    EXPECT_EQ(rescinded, (std::set<uint32_t>{offers[0].relid, sub1.relid, sub2.relid}));
    EXPECT_EQ(disk.closes.size(), 2u) << "the open primary and sub-channel closed host-side";
    EXPECT_TRUE(host->has_device(disk));

    // Linux: the driver closes its channels (no GPADL teardown after a rescind), then releases.
    linux_abi::relid_only close{{linux_abi::CLOSECHANNEL, 0}, sub1.relid};
    EXPECT_EQ(linux_guest.post(close), hv::PortStatus::success);
    for (uint32_t relid : rescinded) {
        linux_abi::relid_only release{{linux_abi::RELID_RELEASED, 0}, relid};
        EXPECT_EQ(linux_guest.post(release), hv::PortStatus::success);
    }
    EXPECT_FALSE(host->has_device(disk));
    EXPECT_EQ(host->gpadls().count(), 0u) << "the rescinded channels' GPADLs are gone";
    EXPECT_EQ(log.lines.size(), log.count("guest connected")) << "nothing refused";

    // The relid can be reused by a hot-added device.
    EchoDevice hot(0x30);
    ASSERT_FALSE(host->add_device(hot).is_error());
    Offer added = linux_guest.take_offer();
    EXPECT_EQ(added.type, hot.offer().interface_type);
    EXPECT_TRUE(rescinded.count(added.relid) == 1);
}

TEST_F(VmbusHandshake, SubchannelsRequestedFromAPacketAreOfferedAfterIt) {
    disk.host = host.get();
    disk.subchannel_request = 3;
    LinuxGuest linux_guest = guest();
    std::vector<Offer> offers = linux_guest.boot();
    LinuxChannel primary = linux_guest.open(offers[0], 2, 2);
    uint8_t request[8] = {13};
    ASSERT_EQ(primary.send_inband(7, request, true), 0);
    for (uint16_t i = 1; i <= 3; ++i)
        EXPECT_EQ(linux_guest.take_offer().subchannel, i);
    EXPECT_EQ(primary.receive_all().size(), 1u);
    EXPECT_TRUE(host->offer_subchannels(disk, 5).is_error()) << "the disk offers 4 at most";
}

TEST_F(VmbusHandshake, MessagesWaitInOrderWhileTheGuestSynicIsFull) {
    LinuxGuest linux_guest = guest();
    ASSERT_NE(linux_guest.connect(), 0u);
    synic.full_for = 2;
    linux_abi::message_header request{linux_abi::REQUESTOFFERS, 0};
    EXPECT_EQ(linux_guest.post(request), hv::PortStatus::success);
    EXPECT_FALSE(linux_guest.has_message());
    host->poll(); // still full once
    EXPECT_FALSE(linux_guest.has_message());
    host->poll();
    EXPECT_EQ(linux_guest.take_offer().type, disk.offer().interface_type);
    EXPECT_EQ(linux_guest.take_offer().type, net.offer().interface_type);
    linux_guest.expect<linux_abi::message_header>(linux_abi::ALLOFFERS_DELIVERED);
    EXPECT_GE(host->stats().outbox_retries, 2u);
}

TEST_F(VmbusHandshake, AFullOutboxMakesTheGuestRetryTheHypercall) {
    LinuxGuest linux_guest = guest();
    std::vector<Offer> offers = linux_guest.boot();
    synic.full_for = 1 << 20;
    uint32_t handle = 0x100;
    hv::PortStatus status = hv::PortStatus::success;
    int posted = 0;
    while (status == hv::PortStatus::success && posted < 1000) {
        // Each open of an unknown relid is answered: the answers pile up in the outbox.
        linux_abi::open_channel open{};
        open.header.msgtype = linux_abi::OPENCHANNEL;
        open.child_relid = 60;
        open.ringbuffer_gpadlhandle = handle;
        status = linux_guest.post(open);
        ++posted;
    }
    EXPECT_EQ(status, hv::PortStatus::insufficient_buffers);
    EXPECT_LT(posted, 1000);
    synic.full_for = 0;
    host->poll();
    EXPECT_EQ(synic.messages.size(), static_cast<size_t>(posted - 1));
}

TEST_F(VmbusHandshake, ModifyChannelIsAcknowledgedFromVersion53Only) {
    for (uint32_t v : {version(5, 3), version(5, 2), version(4, 0)}) {
        make_host();
        ASSERT_FALSE(host->add_device(disk).is_error());
        LinuxGuest linux_guest = guest();
        std::vector<Offer> offers = linux_guest.boot(v);
        LinuxChannel channel = linux_guest.open(offers[0], 2, 2);
        ASSERT_EQ(channel.status, 0u);
        linux_abi::modifychannel modify{{linux_abi::MODIFYCHANNEL, 0}, offers[0].relid, 3};
        EXPECT_EQ(linux_guest.post(modify), hv::PortStatus::success);
        if (v >= version(5, 3)) {
            auto response = linux_guest.expect<linux_abi::modifychannel_response>(
                linux_abi::MODIFYCHANNEL_RESPONSE);
            EXPECT_EQ(response.child_relid, offers[0].relid);
            EXPECT_EQ(response.status, 0u);
        } else {
            EXPECT_FALSE(linux_guest.has_message());
        }
        // Interrupts follow the new target from 4.1 on.
        synic.events.clear();
        uint8_t payload[16] = {1};
        channel.vcpu = 3;
        ASSERT_EQ(channel.send_inband(1, payload, true), 0);
        ASSERT_FALSE(synic.events.empty());
        EXPECT_EQ(synic.events.back().vcpu, v >= version(4, 1) ? 3u : 0u);
        EXPECT_EQ(synic.events.back().sint, 2);
        EXPECT_EQ(synic.events.back().flag, offers[0].relid);
    }
}

} // namespace
} // namespace vmbus_test
