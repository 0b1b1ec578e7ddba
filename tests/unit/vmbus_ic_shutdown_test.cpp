// The shutdown IC against Linux 6.1's shutdown_onchannelcallback: shutdown, forced shutdown and
// restart are accepted; refusals, timeouts, late answers and a channel that goes away.
#include "vmbus_ic_test_support.hpp"

using namespace ic_test;
namespace lg = ic_test::linux_guest;

namespace {

using ShutdownHarness = Harness<ShutdownIc, lg::ShutdownGuest>;

void connect(ShutdownHarness& h) {
    h.open();
    h.tick();
    h.run_guest();
    ASSERT_TRUE(h.service.available());
}

TEST(VmbusIcShutdown, NotAvailableUntilTheGuestNegotiated) {
    ShutdownHarness h(shutdown_config());
    EXPECT_FALSE(h.service.available());
    auto refused = h.service.request(ShutdownKind::shutdown, false, h.now);
    ASSERT_TRUE(refused.is_error());
    EXPECT_EQ(refused.error().code(), ErrorCode::not_supported);
    h.open();
    h.tick();
    EXPECT_FALSE(h.service.available()) << "NEGOTIATE not answered yet";
    h.run_guest();
    EXPECT_TRUE(h.service.available());
    EXPECT_EQ(h.service.outcome().result, ShutdownResult::none);
}

TEST(VmbusIcShutdown, LinuxAcceptsAShutdownRequest) {
    ShutdownHarness h(shutdown_config());
    connect(h);
    ASSERT_FALSE(h.service.request(ShutdownKind::shutdown, false, h.now).is_error());
    // Sent at once (the ring has room), the whole shutdown_msg_data Linux insists on.
    ASSERT_EQ(h.endpoints.ring.queue.size(), 1u);
    EXPECT_EQ(h.service.outcome().result, ShutdownResult::sent);
    const SentPacket& p = h.front();
    EXPECT_EQ(p.bytes.size(), lg::ICMSG_HDR + sizeof(lg::shutdown_msg_data));
    EXPECT_EQ(h.front_header().icmsgtype, lg::ICMSGTYPE_SHUTDOWN);
    EXPECT_EQ(h.front_header().icvermsg.major, 3);
    EXPECT_EQ(h.front_header().icvermsg.minor, 2);
    EXPECT_EQ(h.front_header().icmsgsize, sizeof(lg::shutdown_msg_data));
    auto* msg = reinterpret_cast<const lg::shutdown_msg_data*>(p.bytes.data() + lg::ICMSG_HDR);
    EXPECT_EQ(msg->flags, 0u);
    EXPECT_EQ(msg->reason_code, 0x80000000u);
    h.run_guest();
    EXPECT_EQ(h.guest.executed, (std::vector<uint32_t>{0}));
    ShutdownOutcome outcome = h.service.outcome();
    EXPECT_EQ(outcome.result, ShutdownResult::accepted);
    EXPECT_EQ(outcome.status, 0u);
    EXPECT_STREQ(shutdown_result_name(outcome.result), "accepted");
    // The guest goes down and closes its channels: the outcome stays.
    h.close();
    EXPECT_EQ(h.service.outcome().result, ShutdownResult::accepted);
    EXPECT_FALSE(h.service.available());
}

TEST(VmbusIcShutdown, ForceAndRestartFlags) {
    struct Case {
        ShutdownKind kind;
        bool force;
        uint32_t flags;
    };
    for (Case c : {Case{ShutdownKind::shutdown, true, 1}, Case{ShutdownKind::restart, false, 2},
                   Case{ShutdownKind::restart, true, 3}}) {
        ShutdownHarness h(shutdown_config());
        connect(h);
        ASSERT_FALSE(h.service.request(c.kind, c.force, h.now).is_error());
        h.run_guest();
        EXPECT_EQ(h.guest.executed, (std::vector<uint32_t>{c.flags}));
        EXPECT_EQ(h.service.outcome().result, ShutdownResult::accepted);
        EXPECT_EQ(h.service.outcome().kind, c.kind);
        EXPECT_EQ(h.service.outcome().force, c.force);
    }
}

TEST(VmbusIcShutdown, OneRequestAtATime) {
    ShutdownHarness h(shutdown_config());
    connect(h);
    ASSERT_FALSE(h.service.request(ShutdownKind::shutdown, false, h.now).is_error());
    auto again = h.service.request(ShutdownKind::restart, false, h.now);
    ASSERT_TRUE(again.is_error());
    EXPECT_EQ(again.error().code(), ErrorCode::busy);
    h.run_guest();
    // Answered: a new request may follow (e.g. the guest ignored the first).
    EXPECT_FALSE(h.service.request(ShutdownKind::shutdown, true, h.now).is_error());
    h.run_guest();
    EXPECT_EQ(h.guest.executed, (std::vector<uint32_t>{0, 1}));
}

// Linux before 3.1 of the protocol only handled flags 0 and 1.
TEST(VmbusIcShutdown, RestartNeedsVersion31) {
    struct OldGuest {
        lg::ShutdownGuest inner;
        lg::Outcome receive(std::vector<uint8_t> buf) {
            if (lg::header_of(buf)->icmsgtype == lg::ICMSGTYPE_NEGOTIATE) {
                lg::prep_negotiate_resp(buf, lg::fw_versions, {0x30000, 0x10000});
                lg::mark_response(buf);
                return {true, std::move(buf)};
            }
            return inner.receive(std::move(buf));
        }
    };
    Harness<ShutdownIc, OldGuest> h(shutdown_config());
    h.open();
    h.tick();
    h.run_guest();
    EXPECT_EQ(h.service.ic_status().message, (Version{3, 0}));
    auto restart = h.service.request(ShutdownKind::restart, false, h.now);
    ASSERT_TRUE(restart.is_error());
    EXPECT_EQ(restart.error().code(), ErrorCode::not_supported);
    EXPECT_FALSE(h.service.request(ShutdownKind::shutdown, false, h.now).is_error());
    h.run_guest();
    EXPECT_EQ(h.service.outcome().result, ShutdownResult::accepted);
}

TEST(VmbusIcShutdown, ARefusalCarriesTheGuestsStatus) {
    ShutdownHarness h(shutdown_config());
    connect(h);
    ASSERT_FALSE(h.service.request(ShutdownKind::shutdown, false, h.now).is_error());
    SentPacket request = h.front();
    h.endpoints.ring.queue.pop_front();
    // What Linux answers to flags it does not know (e.g. hibernate without S4 support).
    auto* msg = reinterpret_cast<lg::shutdown_msg_data*>(request.bytes.data() + lg::ICMSG_HDR);
    msg->flags = 4;
    lg::Outcome outcome = h.guest.receive(request.bytes);
    ASSERT_TRUE(outcome.answered);
    ASSERT_FALSE(h.answer(request.id, outcome.response).is_error());
    ShutdownOutcome result = h.service.outcome();
    EXPECT_EQ(result.result, ShutdownResult::refused);
    EXPECT_EQ(result.status, lg::HV_E_FAIL);
    EXPECT_TRUE(h.guest.executed.empty());
}

TEST(VmbusIcShutdown, ASilentGuestTimesOutAndALateAnswerStillCounts) {
    ShutdownHarness h(shutdown_config());
    connect(h);
    ASSERT_FALSE(h.service.request(ShutdownKind::shutdown, false, h.now).is_error());
    h.tick(4'999);
    EXPECT_EQ(h.service.outcome().result, ShutdownResult::sent);
    h.tick(1);
    EXPECT_EQ(h.service.outcome().result, ShutdownResult::timed_out);
    // Still one request in flight: a second one would only queue behind it in the guest.
    EXPECT_EQ(code_of(h.service.request(ShutdownKind::shutdown, true, h.now)), ErrorCode::busy);
    h.tick(10'000);
    h.run_guest();
    EXPECT_EQ(h.service.outcome().result, ShutdownResult::accepted);
    EXPECT_EQ(h.service.ic_status().late_responses, 1u);
}

TEST(VmbusIcShutdown, QueuedWithoutRingSpaceTimesOut) {
    ShutdownHarness h(shutdown_config());
    connect(h);
    h.endpoints.ring.room = 1024; // the guest's ring is full of something else
    ASSERT_FALSE(h.service.request(ShutdownKind::shutdown, false, h.now).is_error());
    EXPECT_EQ(h.service.outcome().result, ShutdownResult::queued);
    h.tick(2'000);
    EXPECT_EQ(h.service.outcome().result, ShutdownResult::queued);
    h.tick(3'000);
    EXPECT_EQ(h.service.outcome().result, ShutdownResult::timed_out);
    h.endpoints.ring.room = 3 * 4096;
    h.tick(100);
    EXPECT_TRUE(h.endpoints.ring.queue.empty()) << "a timed-out request is not sent late";
    EXPECT_FALSE(h.service.request(ShutdownKind::shutdown, false, h.now).is_error());
    EXPECT_EQ(h.service.outcome().result, ShutdownResult::sent);
}

TEST(VmbusIcShutdown, ChannelClosingBeforeTheAnswerMakesItUnavailable) {
    ShutdownHarness h(shutdown_config());
    connect(h);
    ASSERT_FALSE(h.service.request(ShutdownKind::shutdown, false, h.now).is_error());
    h.close();
    EXPECT_EQ(h.service.outcome().result, ShutdownResult::unavailable);
    EXPECT_EQ(code_of(h.service.request(ShutdownKind::shutdown, false, h.now)),
              ErrorCode::not_supported);
}

} // namespace
