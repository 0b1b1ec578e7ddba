// The timesync IC against Linux 6.1's timesync_onchannelcallback: version 4.0 samples with the
// reference time, the first one a SYNC (Linux sets its clock), then SAMPLEs every 5 s; older
// guests get ictimesync_data; timeouts and a time source that fails.
#include "vmbus_ic_test_support.hpp"

using namespace ic_test;
namespace lg = ic_test::linux_guest;

namespace {

using TimesyncHarness = Harness<TimesyncIc, lg::TimesyncGuest>;

struct Fixture {
    FakeTimeSource time;
    TimesyncHarness h{time, timesync_config()};
    void connect() {
        h.open();
        h.tick();
        h.run_guest();
    }
};

TEST(VmbusIcTimesync, FirstMessageIsASyncWithTheReferenceTime) {
    Fixture f;
    f.h.open();
    f.h.tick();
    SentPacket negotiate = f.h.front();
    f.h.endpoints.ring.queue.pop_front();
    ASSERT_FALSE(f.h.deliver(negotiate, f.h.guest.receive(negotiate.bytes)).is_error());
    // The SYNC goes out with the negotiation's answer, a timesync 4.0 message.
    ASSERT_EQ(f.h.endpoints.ring.queue.size(), 1u);
    const SentPacket& p = f.h.front();
    EXPECT_EQ(f.h.front_header().icmsgtype, lg::ICMSGTYPE_TIMESYNC);
    EXPECT_EQ(f.h.front_header().icvermsg.major, 4);
    EXPECT_EQ(f.h.front_header().icmsgsize, sizeof(lg::ictimesync_ref_data));
    EXPECT_GE(p.bytes.size(), lg::ICMSG_HDR + sizeof(lg::ictimesync_ref_data));
    auto* data = reinterpret_cast<const lg::ictimesync_ref_data*>(p.bytes.data() + lg::ICMSG_HDR);
    // Packed fields are read into locals (gtest takes references).
    const uint8_t flags = data->flags;
    const uint64_t parent_time = data->parenttime;
    const uint64_t reference_time = data->vmreferencetime;
    EXPECT_EQ(flags, lg::ICTIMESYNCFLAG_SYNC);
    EXPECT_EQ(parent_time, f.time.utc_base + f.h.now / 100);
    EXPECT_EQ(reference_time, f.h.now / 100);
    f.h.run_guest();
    EXPECT_EQ(f.h.guest.clock_sets, 1u);
    TimesyncInfo info = f.h.service.info();
    EXPECT_EQ(info.syncs_sent, 1u);
    EXPECT_EQ(info.answered, 1u);
    EXPECT_EQ(info.last_host_time, parent_time);
}

TEST(VmbusIcTimesync, SamplesEveryFiveSeconds) {
    Fixture f;
    f.connect();
    for (int i = 0; i < 4; ++i) {
        f.h.tick(4'999);
        EXPECT_TRUE(f.h.endpoints.ring.queue.empty());
        f.h.tick(1);
        f.h.run_guest();
    }
    ASSERT_EQ(f.h.guest.samples.size(), 5u);
    for (size_t i = 1; i < f.h.guest.samples.size(); ++i) {
        EXPECT_EQ(f.h.guest.samples[i].flags, lg::ICTIMESYNCFLAG_SAMPLE);
        // 5 s apart in 100 ns units.
        EXPECT_EQ(f.h.guest.samples[i].host_time - f.h.guest.samples[i - 1].host_time, 50'000'000u);
    }
    EXPECT_EQ(f.h.guest.clock_sets, 1u) << "samples do not step Linux's clock";
    EXPECT_EQ(f.h.service.info().samples_sent, 4u);
}

TEST(VmbusIcTimesync, RequestSyncSendsAnotherSync) {
    Fixture f;
    f.connect();
    f.h.tick(1'000);
    f.h.service.request_sync(f.h.now);
    ASSERT_EQ(f.h.endpoints.ring.queue.size(), 1u);
    f.h.run_guest();
    EXPECT_EQ(f.h.guest.samples.back().flags, lg::ICTIMESYNCFLAG_SYNC);
    EXPECT_EQ(f.h.guest.clock_sets, 2u);
}

TEST(VmbusIcTimesync, OlderGuestsGetTheVersion3Message) {
    struct OlderGuest {
        lg::TimesyncGuest inner;
        lg::Outcome receive(std::vector<uint8_t> buf) {
            if (lg::header_of(buf)->icmsgtype == lg::ICMSGTYPE_NEGOTIATE) {
                lg::prep_negotiate_resp(buf, lg::fw_versions, {0x30000, 0x10000},
                                        &inner.srv_version);
                lg::mark_response(buf);
                return {true, std::move(buf)};
            }
            return inner.receive(std::move(buf));
        }
    };
    FakeTimeSource time;
    Harness<TimesyncIc, OlderGuest> h(time, timesync_config());
    h.open();
    h.tick();
    SentPacket negotiate = h.front();
    h.endpoints.ring.queue.pop_front();
    ASSERT_FALSE(h.deliver(negotiate, h.guest.receive(negotiate.bytes)).is_error());
    EXPECT_EQ(h.service.ic_status().message, (Version{3, 0}));
    EXPECT_EQ(h.front_header().icmsgsize, sizeof(lg::ictimesync_data));
    h.run_guest();
    ASSERT_EQ(h.guest.inner.samples.size(), 1u);
    EXPECT_EQ(h.guest.inner.samples[0].flags, lg::ICTIMESYNCFLAG_SYNC);
    EXPECT_EQ(h.guest.inner.samples[0].host_time, time.utc_base + h.now / 100);
}

TEST(VmbusIcTimesync, AnUnansweredSampleStopsTheFlowUntilTheGuestAnswers) {
    Fixture f;
    f.connect();
    f.h.tick(5'000);
    ASSERT_EQ(f.h.endpoints.ring.queue.size(), 1u);
    f.h.tick(5'000);
    EXPECT_FALSE(f.h.service.info().responding);
    f.h.tick(30'000);
    EXPECT_EQ(f.h.endpoints.ring.queue.size(), 1u);
    f.h.run_guest();
    EXPECT_TRUE(f.h.service.info().responding);
    f.h.tick(5'000);
    EXPECT_EQ(f.h.endpoints.ring.queue.size(), 1u);
}

TEST(VmbusIcTimesync, NoSampleWithoutAWallClock) {
    Fixture f;
    f.time.broken = true;
    f.connect();
    EXPECT_TRUE(f.h.endpoints.ring.queue.empty());
    EXPECT_EQ(f.h.service.info().source_failures, 1u);
    f.h.tick(100);
    f.h.tick(100);
    EXPECT_EQ(f.h.service.info().source_failures, 1u) << "counted once per due sample";
    f.time.broken = false;
    f.h.tick(100);
    f.h.run_guest();
    EXPECT_EQ(f.h.guest.clock_sets, 1u) << "the SYNC still comes first";
}

TEST(VmbusIcTimesync, PartitionTimeSourceUsesTheReferenceClock) {
    hyperv::ReferenceClock clock(2'000'000'000, 4'000'000'000); // 2 GHz, created at TSC 4e9
    const uint64_t utc = PartitionTimeSource::utc_from_unix_seconds(1'700'000'000);
    EXPECT_EQ(utc, 116444736000000000ull + 17'000'000'000'000'000ull);
    PartitionTimeSource source(clock, utc);
    auto sample = source.sample(4'000'000'000 + 2'000'000'000); // one second later
    ASSERT_FALSE(sample.is_error());
    EXPECT_NEAR(static_cast<double>(sample.value().reference_time), 10'000'000.0, 1.0);
    EXPECT_EQ(sample.value().host_time, utc + sample.value().reference_time);
    PartitionTimeSource unknown(clock, 0);
    EXPECT_TRUE(unknown.sample(0).is_error());
}

} // namespace
