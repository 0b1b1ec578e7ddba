// The IC framework as Linux 6.1's hv_utils meets it: the offers, NEGOTIATE and the versions Linux
// picks, version mismatch, one request in flight, timeouts with late answers, ring space, and
// every way an answer can be malformed.
#include "vmbus_ic_test_support.hpp"

#include <cctype>

using namespace ic_test;
namespace lg = ic_test::linux_guest;

namespace {

using HeartbeatHarness = Harness<HeartbeatIc, lg::HeartbeatGuest>;

// The GUID as Windows/Linux write it in text, in the wire order of the offer.
std::vector<uint8_t> guid_bytes(const Guid& guid) {
    return {guid.bytes, guid.bytes + 16};
}

TEST(VmbusIcFramework, OffersAreHyperVsIntegrationServices) {
    FakeEndpoints endpoints;
    FakeTimeSource time;
    ShutdownIc shutdown(endpoints, shutdown_config());
    TimesyncIc timesync(endpoints, time, timesync_config());
    HeartbeatIc heartbeat(endpoints, heartbeat_config());
    KvpIc kvp(endpoints, kvp_config());
    // 0e0b6031-5213-4934-818b-38d90ced39db etc., first three fields little-endian (Linux's
    // GUID_INIT layout).
    EXPECT_EQ(guid_bytes(shutdown.offer().interface_type),
              (std::vector<uint8_t>{0x31, 0x60, 0x0b, 0x0e, 0x13, 0x52, 0x34, 0x49, 0x81, 0x8b,
                                    0x38, 0xd9, 0x0c, 0xed, 0x39, 0xdb}));
    EXPECT_EQ(guid_bytes(timesync.offer().interface_type),
              (std::vector<uint8_t>{0x30, 0xe6, 0x27, 0x95, 0xae, 0xd0, 0x7b, 0x49, 0xad, 0xce,
                                    0xe8, 0x0a, 0xb0, 0x17, 0x5c, 0xaf}));
    EXPECT_EQ(guid_bytes(heartbeat.offer().interface_type),
              (std::vector<uint8_t>{0x39, 0x4f, 0x16, 0x57, 0x15, 0x91, 0x78, 0x4e, 0xab, 0x55,
                                    0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d}));
    EXPECT_EQ(guid_bytes(kvp.offer().interface_type),
              (std::vector<uint8_t>{0xe7, 0xf4, 0xa0, 0xa9, 0x45, 0x5a, 0x96, 0x4d, 0xb8, 0x27,
                                    0x8a, 0x84, 0x1e, 0x8c, 0x03, 0xe6}));
    // Hyper-V's instance ids (2dd1ce17-079e-403c-b352-a1921ee207ee is the timesync one).
    EXPECT_EQ(guid_bytes(timesync.offer().instance),
              (std::vector<uint8_t>{0x17, 0xce, 0xd1, 0x2d, 0x9e, 0x07, 0x3c, 0x40, 0xb3, 0x52,
                                    0xa1, 0x92, 0x1e, 0xe2, 0x07, 0xee}));
    for (const ChannelDevice* device :
         std::initializer_list<const ChannelDevice*>{&shutdown, &timesync, &heartbeat, &kvp}) {
        EXPECT_TRUE(device->offer().pipe_mode);
        EXPECT_EQ(device->offer().max_subchannels, 0);
    }
}

TEST(VmbusIcFramework, NothingIsSentBeforeTheGuestOpensTheChannel) {
    HeartbeatHarness h(heartbeat_config());
    h.tick(1000);
    EXPECT_EQ(h.endpoints.ring.total_sent, 0u);
    EXPECT_EQ(h.service.ic_status().state, IcState::closed);
    EXPECT_TRUE(h.service.on_open(1).is_error()) << "no sub-channels";
}

TEST(VmbusIcFramework, NegotiateIsWhatLinuxExpects) {
    HeartbeatHarness h(heartbeat_config());
    h.open();
    EXPECT_EQ(h.endpoints.ring.total_sent, 0u) << "on_open itself sends nothing";
    h.tick();
    ASSERT_EQ(h.endpoints.ring.queue.size(), 1u);
    const SentPacket& p = h.front();
    EXPECT_FALSE(p.completion_requested);
    ASSERT_GE(p.bytes.size(), lg::ICMSG_HDR + 8u);
    EXPECT_LE(p.bytes.size(), lg::HV_HYP_PAGE_SIZE);
    auto* pipe = reinterpret_cast<const lg::vmbuspipe_hdr*>(p.bytes.data());
    EXPECT_EQ(pipe->flags, 1u);
    EXPECT_EQ(pipe->msgsize, p.bytes.size() - 8);
    const lg::icmsg_hdr& hdr = h.front_header();
    EXPECT_EQ(hdr.icmsgtype, lg::ICMSGTYPE_NEGOTIATE);
    EXPECT_EQ(hdr.icflags, lg::ICMSGHDRFLAG_TRANSACTION | lg::ICMSGHDRFLAG_REQUEST);
    EXPECT_EQ(hdr.status, 0u);
    auto* negop = reinterpret_cast<const lg::icmsg_negotiate*>(p.bytes.data() + lg::ICMSG_HDR);
    ASSERT_EQ(negop->icframe_vercnt, 2);
    ASSERT_EQ(negop->icmsg_vercnt, 2);
    EXPECT_EQ(hdr.icmsgsize, 8 + 4 * 4);
    EXPECT_GE(p.bytes.size(), lg::ICMSG_HDR + 8u + 4 * 4) << "Linux's ICMSG_NEGOTIATE_PKT_SIZE";
    const lg::ic_version* v = negop->icversion_data;
    EXPECT_EQ(v[0].major, 3);
    EXPECT_EQ(v[1].major, 1);
    EXPECT_EQ(v[2].major, 3); // heartbeat 3.0, 1.0
    EXPECT_EQ(v[3].major, 1);
    EXPECT_EQ(h.service.ic_status().state, IcState::negotiating);
}

TEST(VmbusIcFramework, Linux61PicksTheNewestVersionOfEveryService) {
    {
        Harness<ShutdownIc, lg::ShutdownGuest> h(shutdown_config());
        h.open();
        h.tick();
        h.run_guest();
        IcStatus status = h.service.ic_status();
        EXPECT_EQ(status.state, IcState::ready);
        EXPECT_EQ(status.framework, (Version{3, 0}));
        EXPECT_EQ(status.message, (Version{3, 2}));
        EXPECT_EQ(h.guest.srv_version, 0x30002);
    }
    {
        FakeTimeSource time;
        Harness<TimesyncIc, lg::TimesyncGuest> h(time, timesync_config());
        h.open();
        h.tick();
        h.run_guest();
        EXPECT_EQ(h.service.ic_status().message, (Version{4, 0}));
        EXPECT_EQ(h.guest.srv_version, 0x40000);
    }
    {
        HeartbeatHarness h(heartbeat_config());
        h.open();
        h.tick();
        h.run_guest();
        EXPECT_EQ(h.service.ic_status().message, (Version{3, 0}));
    }
    {
        Harness<KvpIc, lg::KvpGuest> h(kvp_config());
        h.guest.daemon = lg::KvpGuest::Daemon::running;
        h.open();
        h.tick();
        h.run_guest();
        EXPECT_EQ(h.service.ic_status().message, (Version{4, 0}));
        EXPECT_EQ(h.guest.srv_version, 0x40000);
    }
}

// A guest whose hv_utils knows none of our heartbeat versions.
struct FutureHeartbeatGuest {
    lg::Outcome receive(std::vector<uint8_t> buf) {
        lg::Outcome out;
        lg::prep_negotiate_resp(buf, lg::fw_versions, {0x50000});
        lg::mark_response(buf);
        out.answered = true;
        out.response = std::move(buf);
        return out;
    }
};

TEST(VmbusIcFramework, VersionMismatchStopsTheService) {
    Harness<HeartbeatIc, FutureHeartbeatGuest> h(heartbeat_config());
    h.open();
    h.tick();
    h.run_guest();
    EXPECT_EQ(h.service.ic_status().state, IcState::incompatible);
    EXPECT_EQ(h.service.info().status, HeartbeatStatus::error);
    const uint64_t sent = h.endpoints.ring.total_sent;
    h.tick(60'000);
    EXPECT_EQ(h.endpoints.ring.total_sent, sent) << "nothing more after no agreement";
    // The guest's driver reloads: a new session negotiates again.
    h.close();
    h.open();
    h.tick();
    EXPECT_EQ(h.endpoints.ring.total_sent, sent + 1);
    EXPECT_EQ(h.front_header().icmsgtype, lg::ICMSGTYPE_NEGOTIATE);
}

TEST(VmbusIcFramework, UnansweredNegotiateIsReportedAndALateAnswerTaken) {
    HeartbeatHarness h(heartbeat_config());
    h.open();
    h.tick();
    h.tick(4'999);
    EXPECT_EQ(h.service.ic_status().state, IcState::negotiating);
    h.tick(1);
    IcStatus status = h.service.ic_status();
    EXPECT_EQ(status.state, IcState::no_answer);
    EXPECT_TRUE(status.request_overdue);
    EXPECT_EQ(status.timeouts, 1u);
    h.tick(60'000);
    EXPECT_EQ(h.endpoints.ring.total_sent, 1u) << "one request in flight, even overdue";
    h.run_guest();
    status = h.service.ic_status();
    EXPECT_EQ(status.state, IcState::ready);
    EXPECT_EQ(status.late_responses, 1u);
    EXPECT_FALSE(status.request_overdue);
}

TEST(VmbusIcFramework, NoSendWithoutRingSpaceOrOpenEndpoint) {
    HeartbeatHarness h(heartbeat_config());
    ASSERT_FALSE(h.service.on_open(0).is_error());
    h.tick(); // the host has not marked the channel open yet: no endpoint
    EXPECT_EQ(h.endpoints.ring.total_sent, 0u);
    EXPECT_GT(h.endpoints.lookups, 0u);
    h.endpoints.open = true;
    h.endpoints.ring.room = 40; // not even the NEGOTIATE fits
    h.tick(100);
    EXPECT_EQ(h.endpoints.ring.total_sent, 0u);
    h.endpoints.ring.fail_sends = true;
    h.endpoints.ring.room = 4096;
    h.tick(100);
    EXPECT_EQ(h.endpoints.ring.total_sent, 0u);
    EXPECT_EQ(h.service.ic_status().requests, 0u) << "a failed send is not in flight";
    h.endpoints.ring.fail_sends = false;
    h.tick(100);
    EXPECT_EQ(h.endpoints.ring.total_sent, 1u);
}

// --- malformed answers -------------------------------------------------------------------------

struct MalformedCase {
    const char* name;
    void (*mutate)(std::vector<uint8_t>& bytes, uint64_t& id, PacketType& type, bool& completion);
};

class VmbusIcMalformed : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(VmbusIcMalformed, IsRefusedAndTheSessionEnds) {
    HeartbeatHarness h(heartbeat_config());
    h.open();
    h.tick();
    h.step_guest(); // negotiated; the first heartbeat is queued
    ASSERT_EQ(h.endpoints.ring.queue.size(), 1u);
    SentPacket request = h.front();
    h.endpoints.ring.queue.pop_front();
    lg::Outcome outcome = h.guest.receive(request.bytes);
    ASSERT_TRUE(outcome.answered);
    uint64_t id = request.id;
    PacketType type = PacketType::data_inband;
    bool completion = false;
    GetParam().mutate(outcome.response, id, type, completion);
    const uint64_t sent = h.endpoints.ring.total_sent;
    auto status = h.answer(id, outcome.response, type, completion);
    ASSERT_TRUE(status.is_error()) << GetParam().name;
    EXPECT_EQ(h.endpoints.ring.total_sent, sent) << "a refused answer sends nothing";
    IcStatus ic = h.service.ic_status();
    EXPECT_EQ(ic.faults, 1u);
    EXPECT_STREQ(ic.last_fault, status.error().message());
    // The VMBus host closes the channel; the guest re-opens it and starts over.
    h.close();
    EXPECT_EQ(h.service.ic_status().state, IcState::closed);
    h.open();
    h.tick();
    h.run_guest();
    EXPECT_EQ(h.service.info().status, HeartbeatStatus::ok);
}

INSTANTIATE_TEST_SUITE_P(
    Answers, VmbusIcMalformed,
    ::testing::Values(MalformedCase{"completion packet",
                                    [](auto&, uint64_t&, PacketType& type, bool&) {
                                        type = PacketType::completion;
                                    }},
                      MalformedCase{"completion requested",
                                    [](auto&, uint64_t&, PacketType&, bool& completion) {
                                        completion = true;
                                    }},
                      MalformedCase{"unknown transaction",
                                    [](auto&, uint64_t& id, PacketType&, bool&) { id += 7; }},
                      MalformedCase{"not a response",
                                    [](auto& bytes, uint64_t&, PacketType&, bool&) {
                                        lg::header_of(bytes)->icflags = lg::ICMSGHDRFLAG_REQUEST;
                                    }},
                      MalformedCase{"other IC transaction byte",
                                    [](auto& bytes, uint64_t&, PacketType&, bool&) {
                                        lg::header_of(bytes)->ictransaction_id ^= 0x55;
                                    }},
                      MalformedCase{"other message type",
                                    [](auto& bytes, uint64_t&, PacketType&, bool&) {
                                        lg::header_of(bytes)->icmsgtype = lg::ICMSGTYPE_SHUTDOWN;
                                    }},
                      MalformedCase{
                          "shorter than the request",
                          [](auto& bytes, uint64_t&, PacketType&, bool&) { bytes.resize(48); }},
                      MalformedCase{
                          "shorter than the IC header",
                          [](auto& bytes, uint64_t&, PacketType&, bool&) { bytes.resize(20); }},
                      MalformedCase{
                          "longer than the request",
                          [](auto& bytes, uint64_t&, PacketType&, bool&) { bytes.resize(80); }},
                      MalformedCase{"oversized", [](auto& bytes, uint64_t&,
                                                    PacketType&, bool&) { bytes.resize(16384); }},
                      MalformedCase{"heartbeat not incremented",
                                    [](auto& bytes, uint64_t&, PacketType&, bool&) {
                                        reinterpret_cast<lg::heartbeat_msg_data*>(bytes.data() +
                                                                                  lg::ICMSG_HDR)
                                            ->seq_num -= 1;
                                    }}),
    [](const ::testing::TestParamInfo<MalformedCase>& info) {
        std::string name = info.param.name;
        for (char& c : name)
            c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
        return name;
    });

TEST(VmbusIcFramework, MalformedNegotiateAnswersAreRefused) {
    const auto negotiate_and_answer = [](auto mutate) {
        HeartbeatHarness h(heartbeat_config());
        h.open();
        h.tick();
        SentPacket request = h.front();
        h.endpoints.ring.queue.pop_front();
        std::vector<uint8_t> bytes = h.guest.receive(request.bytes).response;
        mutate(bytes);
        return h.answer(request.id, bytes).is_error();
    };
    // Two versions picked.
    EXPECT_TRUE(negotiate_and_answer([](std::vector<uint8_t>& b) {
        reinterpret_cast<lg::icmsg_negotiate*>(b.data() + lg::ICMSG_HDR)->icframe_vercnt = 2;
    }));
    // A version we never offered.
    EXPECT_TRUE(negotiate_and_answer([](std::vector<uint8_t>& b) {
        reinterpret_cast<lg::icmsg_negotiate*>(b.data() + lg::ICMSG_HDR)->icversion_data[0] = {2,
                                                                                               0};
    }));
    EXPECT_TRUE(negotiate_and_answer([](std::vector<uint8_t>& b) {
        reinterpret_cast<lg::ic_version*>(b.data() + lg::ICMSG_HDR + 12)[0] = {9, 9};
    }));
    // The well-formed answer is taken.
    EXPECT_FALSE(negotiate_and_answer([](std::vector<uint8_t>&) {}));
}

TEST(VmbusIcFramework, AnswerWithNothingInFlightIsRefused) {
    HeartbeatHarness h(heartbeat_config());
    h.open();
    std::vector<uint8_t> bytes(72, 0);
    lg::header_of(bytes)->icflags = lg::ICMSGHDRFLAG_TRANSACTION | lg::ICMSGHDRFLAG_RESPONSE;
    EXPECT_TRUE(h.answer(1, bytes).is_error());
    h.close();
    EXPECT_TRUE(h.answer(1, bytes).is_error()) << "closed channel";
}

} // namespace
