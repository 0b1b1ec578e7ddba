// The heartbeat IC against Linux 6.1's heartbeat_onchannelcallback, and the health it gives
// Get-VM: NoContact, Ok, LostCommunication, Error, with the timing rules of heartbeat_ic.hpp.
#include "vmbus_ic_test_support.hpp"

using namespace ic_test;
namespace lg = ic_test::linux_guest;

namespace {

using HeartbeatHarness = Harness<HeartbeatIc, lg::HeartbeatGuest>;

const char* display(const HeartbeatInfo& info) {
    return heartbeat_display_name(info.status, info.application);
}

uint64_t sequence_of(const SentPacket& p) {
    return reinterpret_cast<const lg::heartbeat_msg_data*>(p.bytes.data() + lg::ICMSG_HDR)->seq_num;
}

TEST(VmbusIcHeartbeat, NoContactUntilTheFirstAnswer) {
    HeartbeatHarness h(heartbeat_config());
    EXPECT_STREQ(display(h.service.info()), "NoContact");
    h.open();
    h.tick();
    EXPECT_STREQ(display(h.service.info()), "NoContact");
    // Negotiation answered; the first heartbeat goes out with the answer.
    SentPacket negotiate = h.front();
    h.endpoints.ring.queue.pop_front();
    ASSERT_FALSE(h.deliver(negotiate, h.guest.receive(negotiate.bytes)).is_error());
    ASSERT_EQ(h.endpoints.ring.queue.size(), 1u);
    EXPECT_EQ(h.front_header().icmsgtype, lg::ICMSGTYPE_HEARTBEAT);
    EXPECT_EQ(h.front().bytes.size(), 72u); // 28 + heartbeat_msg_data, padded to 8
    EXPECT_STREQ(display(h.service.info()), "NoContact");
    h.run_guest();
    HeartbeatInfo info = h.service.info();
    EXPECT_EQ(info.status, HeartbeatStatus::ok);
    // Linux leaves the application state as sent (0): Get-VM shows "applications unknown".
    EXPECT_STREQ(display(info), "OkApplicationsUnknown");
    EXPECT_EQ(info.answered, 1u);
    EXPECT_EQ(info.last_contact, h.now);
}

TEST(VmbusIcHeartbeat, EveryTwoSecondsWithLinuxReturningSeqPlusOne) {
    HeartbeatHarness h(heartbeat_config());
    h.open();
    h.tick();
    h.run_guest();
    uint64_t last = h.service.info().sequence;
    for (int i = 0; i < 5; ++i) {
        h.tick(1'999);
        EXPECT_TRUE(h.endpoints.ring.queue.empty()) << "not before the interval";
        h.tick(1);
        ASSERT_EQ(h.endpoints.ring.queue.size(), 1u);
        const uint64_t sent = sequence_of(h.front());
        EXPECT_EQ(sent, last);
        h.run_guest();
        EXPECT_EQ(h.service.info().sequence, sent + 1);
        last = sent + 1;
    }
    EXPECT_EQ(h.service.info().answered, 6u);
}

TEST(VmbusIcHeartbeat, ASilentGuestIsLostCommunicationThenOkAgain) {
    HeartbeatHarness h(heartbeat_config());
    h.open();
    h.tick();
    h.run_guest();
    h.tick(2'000); // the next heartbeat goes out; the guest hangs
    ASSERT_EQ(h.endpoints.ring.queue.size(), 1u);
    h.tick(9'999);
    EXPECT_EQ(h.service.info().status, HeartbeatStatus::ok);
    h.tick(1);
    EXPECT_STREQ(display(h.service.info()), "LostCommunication");
    h.tick(60'000);
    EXPECT_EQ(h.endpoints.ring.total_sent, 3u) << "no heartbeats pile up in a hung guest";
    h.run_guest(); // it recovers and answers
    EXPECT_EQ(h.service.info().status, HeartbeatStatus::ok);
    h.tick(2'000);
    EXPECT_EQ(h.endpoints.ring.queue.size(), 1u);
}

TEST(VmbusIcHeartbeat, NeverAnsweredStaysNoContact) {
    HeartbeatHarness h(heartbeat_config());
    h.open();
    h.tick();
    SentPacket negotiate = h.front();
    h.endpoints.ring.queue.pop_front();
    ASSERT_FALSE(h.deliver(negotiate, h.guest.receive(negotiate.bytes)).is_error());
    h.tick(10'000); // the first heartbeat is never answered
    EXPECT_EQ(h.service.info().status, HeartbeatStatus::no_contact);
    // NEGOTIATE itself unanswered: NoContact too.
    HeartbeatHarness silent(heartbeat_config());
    silent.open();
    silent.tick();
    silent.tick(10'000);
    EXPECT_EQ(silent.service.ic_status().state, IcState::no_answer);
    EXPECT_EQ(silent.service.info().status, HeartbeatStatus::no_contact);
}

TEST(VmbusIcHeartbeat, AGuestReportingApplicationHealth) {
    HeartbeatHarness h(heartbeat_config());
    h.open();
    h.tick();
    h.run_guest();
    h.tick(2'000);
    SentPacket request = h.front();
    h.endpoints.ring.queue.pop_front();
    lg::Outcome outcome = h.guest.receive(request.bytes);
    // A Windows guest's version 3 answer carries its application state in the first u32 Linux
    // calls reserved.
    reinterpret_cast<lg::heartbeat_msg_data*>(outcome.response.data() + lg::ICMSG_HDR)
        ->reserved[0] = 1;
    ASSERT_FALSE(h.deliver(request, outcome).is_error());
    EXPECT_STREQ(display(h.service.info()), "OkApplicationsHealthy");
}

TEST(VmbusIcHeartbeat, AFailureStatusIsError) {
    HeartbeatHarness h(heartbeat_config());
    h.open();
    h.tick();
    h.run_guest();
    h.tick(2'000);
    SentPacket request = h.front();
    h.endpoints.ring.queue.pop_front();
    lg::Outcome outcome = h.guest.receive(request.bytes);
    lg::header_of(outcome.response)->status = lg::HV_E_FAIL;
    ASSERT_FALSE(h.deliver(request, outcome).is_error());
    EXPECT_STREQ(display(h.service.info()), "Error");
    h.tick(2'000);
    h.run_guest();
    EXPECT_EQ(h.service.info().status, HeartbeatStatus::ok);
}

TEST(VmbusIcHeartbeat, AReconnectStartsWithoutContact) {
    HeartbeatHarness h(heartbeat_config());
    h.open();
    h.tick();
    h.run_guest();
    EXPECT_EQ(h.service.info().status, HeartbeatStatus::ok);
    h.close(); // the guest reboots
    EXPECT_STREQ(display(h.service.info()), "NoContact");
    h.open();
    h.tick(100);
    EXPECT_EQ(h.service.info().status, HeartbeatStatus::no_contact);
    h.run_guest();
    EXPECT_EQ(h.service.info().status, HeartbeatStatus::ok);
    EXPECT_EQ(h.service.info().answered, 1u);
}

} // namespace
