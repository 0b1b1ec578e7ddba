// QoS: token-bucket rates over simulated time, the egress scheduler's minimum guarantees (absolute
// and weight mode), weight sharing of leftover bandwidth, maximum caps, work conservation, and the
// switch hook's policing and per-port metering.
#include "vswitch/qos/switch_qos.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace {

using namespace halcyon::vswitch::qos;
using halcyon::vswitch::TokenBucket;
namespace vs = halcyon::vswitch;

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSecond = 1000 * kMs;

TEST(VswitchTokenBucket, LongTermRateIsTheConfiguredRate) {
    TokenBucket bucket(1'000'000, 10'000, 0); // 1 MB/s, 10 kB burst
    uint64_t accepted = 0;
    // Offer 1500-byte frames every 100 us (15 MB/s) for 10 simulated seconds.
    for (uint64_t t = 0; t < 10 * kSecond; t += 100'000)
        if (bucket.try_take(1500, t))
            accepted += 1500;
    const uint64_t expected = 10 * 1'000'000 + 10'000;
    EXPECT_NEAR(static_cast<double>(accepted), static_cast<double>(expected), expected * 0.005);
}

TEST(VswitchTokenBucket, BurstAndReadyTime) {
    TokenBucket bucket(1000, 3000, 0);     // 1000 B/s
    EXPECT_TRUE(bucket.try_take(3000, 0)); // the full burst at once
    EXPECT_FALSE(bucket.has(1, 0));
    EXPECT_EQ(bucket.ready_at(500, 0), 500 * kMs);
    EXPECT_FALSE(bucket.has(500, 500 * kMs - 1));
    EXPECT_TRUE(bucket.has(500, 500 * kMs));
    // Idle for an hour: still only one burst banked.
    EXPECT_EQ(bucket.level(3600 * kSecond), 3000u);
    // A clock stepping backwards mints nothing.
    EXPECT_TRUE(bucket.try_take(3000, 3600 * kSecond));
    EXPECT_EQ(bucket.level(3500 * kSecond), 0u);
    // A frame larger than the burst waits for a full bucket, then leaves debt behind.
    EXPECT_TRUE(bucket.try_take(4500, 3603 * kSecond));
    EXPECT_FALSE(bucket.has(1, 3604 * kSecond));
    EXPECT_TRUE(bucket.has(1000, 3606 * kSecond));
}

// ---- Scheduler simulation ----

struct Simulation {
    static constexpr uint32_t kDepth = 64;
    std::vector<vs::Frame*> ring = std::vector<vs::Frame*>(kMaxClasses * kDepth);
    std::vector<vs::Frame> frames = std::vector<vs::Frame>(kMaxClasses * kDepth + 64);
    std::vector<vs::Frame*> free;
    EgressScheduler scheduler;
    std::array<uint64_t, kMaxClasses> sent{};
    std::array<uint64_t, kMaxClasses> offered_limit{}; // bytes/s offered; 0 = saturating

    explicit Simulation(SchedulerConfig config)
        : scheduler(EgressScheduler::create(config, ring, 0).release_value()) {
        for (vs::Frame& f : frames)
            free.push_back(&f);
    }

    // Runs for `duration` in `step` increments. Classes in `active` keep their queue full
    // (saturating) or offer at their offered_limit rate.
    void run(std::vector<uint32_t> active, uint64_t duration, uint64_t step = 20'000,
             uint32_t frame_bytes = 1500) {
        std::array<uint64_t, kMaxClasses> offered{};
        for (uint64_t now = 0; now < duration; now += step) {
            for (uint32_t c : active) {
                const uint64_t allowance =
                    offered_limit[c] == 0 ? UINT64_MAX : offered_limit[c] * (now + step) / kSecond;
                while (!free.empty() && offered[c] + frame_bytes <= allowance &&
                       scheduler.statistics(c).queued < kDepth) {
                    vs::Frame* f = free.back();
                    f->length = frame_bytes;
                    ASSERT_TRUE(scheduler.enqueue(c, f));
                    free.pop_back();
                    offered[c] += frame_bytes;
                }
            }
            uint32_t cls = 0;
            while (vs::Frame* f = scheduler.dequeue(now, &cls)) {
                sent[cls] += f->length;
                free.push_back(f);
            }
        }
    }
    double mbps(uint32_t c, uint64_t duration) const {
        return static_cast<double>(sent[c]) * 8 / (static_cast<double>(duration) / kSecond) / 1e6;
    }
};

constexpr uint64_t kGigabit = 1'000'000'000;

TEST(VswitchQosScheduler, WeightsShareASaturatedLink) {
    Simulation sim({kGigabit, MinimumMode::weight});
    ASSERT_FALSE(sim.scheduler.configure_class(1, {.weight = 10}, 0).is_error());
    ASSERT_FALSE(sim.scheduler.configure_class(2, {.weight = 20}, 0).is_error());
    ASSERT_FALSE(sim.scheduler.configure_class(3, {.weight = 30}, 0).is_error());
    const uint64_t duration = 2 * kSecond;
    sim.run({1, 2, 3}, duration);
    const double total = sim.mbps(1, duration) + sim.mbps(2, duration) + sim.mbps(3, duration);
    EXPECT_NEAR(total, 1000, 10) << "work-conserving: the link stays full";
    EXPECT_NEAR(sim.mbps(1, duration), 1000.0 / 6, 10);
    EXPECT_NEAR(sim.mbps(2, duration), 2000.0 / 6, 10);
    EXPECT_NEAR(sim.mbps(3, duration), 3000.0 / 6, 10);
}

TEST(VswitchQosScheduler, IdleClassesLeaveTheirShareToOthers) {
    Simulation sim({kGigabit, MinimumMode::weight});
    ASSERT_FALSE(sim.scheduler.configure_class(1, {.weight = 10}, 0).is_error());
    ASSERT_FALSE(sim.scheduler.configure_class(2, {.weight = 30}, 0).is_error());
    ASSERT_FALSE(sim.scheduler.configure_class(3, {.weight = 60}, 0).is_error()); // idle
    const uint64_t duration = 2 * kSecond;
    sim.run({1, 2}, duration);
    EXPECT_NEAR(sim.mbps(1, duration) + sim.mbps(2, duration), 1000, 10);
    EXPECT_NEAR(sim.mbps(1, duration), 250, 10); // 10:30 of the whole link
    EXPECT_NEAR(sim.mbps(2, duration), 750, 10);
    EXPECT_EQ(sim.sent[3], 0u);
}

TEST(VswitchQosScheduler, AbsoluteMinimumsHoldUnderContention) {
    // The seeds' Figure 15 shape: storage (class 1) is promised 40 % of the link and gets it while
    // greedy flows compete; a light flow below its minimum gets everything it asks for; what is
    // left is shared equally (no weights set), best effort included.
    Simulation sim({kGigabit, MinimumMode::absolute});
    ASSERT_FALSE(
        sim.scheduler.configure_class(1, {.minimum_bits_per_second = 400'000'000}, 0).is_error());
    ASSERT_FALSE(
        sim.scheduler.configure_class(2, {.minimum_bits_per_second = 100'000'000}, 0).is_error());
    ASSERT_FALSE(
        sim.scheduler.configure_class(3, {.minimum_bits_per_second = 200'000'000}, 0).is_error());
    ASSERT_FALSE(sim.scheduler.configure_class(4, {}, 0).is_error()); // best effort
    sim.offered_limit[3] = 50'000'000 / 8; // class 3 only wants 50 Mbit/s
    const uint64_t duration = 2 * kSecond;
    sim.run({1, 2, 3, 4}, duration);
    const double a = sim.mbps(1, duration), b = sim.mbps(2, duration), c = sim.mbps(3, duration),
                 d = sim.mbps(4, duration);
    EXPECT_NEAR(c, 50, 1);
    EXPECT_NEAR(a + b + c + d, 1000, 10);
    // Leftover 1000 - 400 - 100 - 50 = 450, split equally between classes 1, 2 and 4.
    EXPECT_NEAR(a, 400 + 150, 10);
    EXPECT_NEAR(b, 100 + 150, 10);
    EXPECT_NEAR(d, 150, 10);
}

TEST(VswitchQosScheduler, AbsoluteMinimumBeatsHeavierWeights) {
    // Class 1 has a floor but a small share of leftovers; class 2 a big weight. Pure weighted
    // sharing would give class 1 only 1/11 of the link; the guarantee keeps it at its minimum.
    Simulation sim({kGigabit, MinimumMode::absolute});
    ASSERT_FALSE(
        sim.scheduler.configure_class(1, {.minimum_bits_per_second = 300'000'000, .weight = 1}, 0)
            .is_error());
    ASSERT_FALSE(sim.scheduler.configure_class(2, {.weight = 10}, 0).is_error());
    const uint64_t duration = 2 * kSecond;
    sim.run({1, 2}, duration);
    EXPECT_NEAR(sim.mbps(1, duration), 300 + 700.0 / 11, 10);
    EXPECT_NEAR(sim.mbps(2, duration), 700.0 * 10 / 11, 10);
}

TEST(VswitchQosScheduler, BestEffortGetsTheLinkWhenOthersAreQuiet) {
    Simulation sim({kGigabit, MinimumMode::absolute});
    ASSERT_FALSE(
        sim.scheduler.configure_class(1, {.minimum_bits_per_second = 400'000'000}, 0).is_error());
    ASSERT_FALSE(sim.scheduler.configure_class(4, {}, 0).is_error());
    sim.offered_limit[1] = 100'000'000 / 8;
    const uint64_t duration = kSecond;
    sim.run({1, 4}, duration);
    EXPECT_NEAR(sim.mbps(1, duration), 100, 2);
    EXPECT_NEAR(sim.mbps(4, duration), 900, 10);
}

TEST(VswitchQosScheduler, MaximumCapsAClassAndTheRestIsReused) {
    Simulation sim({kGigabit, MinimumMode::weight});
    ASSERT_FALSE(
        sim.scheduler.configure_class(1, {.maximum_bits_per_second = 200'000'000, .weight = 90}, 0)
            .is_error());
    ASSERT_FALSE(sim.scheduler.configure_class(2, {.weight = 10}, 0).is_error());
    const uint64_t duration = 2 * kSecond;
    sim.run({1, 2}, duration);
    EXPECT_NEAR(sim.mbps(1, duration), 200, 200 * 0.02);
    EXPECT_NEAR(sim.mbps(2, duration), 800, 10);
}

TEST(VswitchQosScheduler, RejectsOversubscribedMinimumsAndBadWeights) {
    Simulation sim({kGigabit, MinimumMode::absolute});
    ASSERT_FALSE(
        sim.scheduler.configure_class(1, {.minimum_bits_per_second = 700'000'000}, 0).is_error());
    auto over = sim.scheduler.configure_class(2, {.minimum_bits_per_second = 400'000'000}, 0);
    ASSERT_TRUE(over.is_error());
    EXPECT_EQ(over.error().code(), halcyon::ErrorCode::out_of_range);
    ASSERT_FALSE(
        sim.scheduler.configure_class(2, {.minimum_bits_per_second = 300'000'000}, 0).is_error());

    Simulation weights({kGigabit, MinimumMode::weight});
    EXPECT_TRUE(weights.scheduler.configure_class(1, {.weight = 101}, 0).is_error());
    EXPECT_TRUE(weights.scheduler.configure_class(64, {.weight = 1}, 0).is_error());
}

TEST(VswitchQosScheduler, FullQueueRefusesAndCounts) {
    Simulation sim({kGigabit, MinimumMode::weight});
    ASSERT_FALSE(sim.scheduler.configure_class(5, {.weight = 1}, 0).is_error());
    for (uint32_t i = 0; i < Simulation::kDepth; ++i)
        ASSERT_TRUE(sim.scheduler.enqueue(5, &sim.frames[i]));
    EXPECT_FALSE(sim.scheduler.enqueue(5, &sim.frames[Simulation::kDepth]));
    EXPECT_EQ(sim.scheduler.statistics(5).queue_full_drops, 1u);
    EXPECT_EQ(sim.scheduler.next_ready_ns(0), 0u);
}

// ---- The switch hook ----

struct Collector final : QosTransmitter {
    std::vector<std::pair<vs::PortId, vs::Frame*>> sent;
    void transmit(vs::PortId port, vs::Frame* frame) override { sent.push_back({port, frame}); }
};

TEST(VswitchQosHook, IngressPolicingAndMetering) {
    SwitchQos qos;
    ASSERT_FALSE(qos.configure_port(
                        3, {.maximum_bits_per_second = 8'000'000, .maximum_burst_bytes = 20'000}, 0)
                     .is_error());
    vs::Frame frame;
    frame.length = 1000;
    uint32_t passed = 0;
    // 1 MB/s cap; offer 1000-byte frames every 100 us (10 MB/s) for one second.
    for (uint64_t t = 0; t < kSecond; t += 100'000) {
        vs::HookContext context{3, 3, vs::Direction::from_port, t};
        vs::HookResult result = qos.ingress(context, frame);
        if (result.pass)
            ++passed;
        else
            EXPECT_EQ(result.reason, vs::DropReason::qos_rate_limited);
    }
    EXPECT_NEAR(passed, 1000 + 20, 2);
    EXPECT_EQ(qos.meter(3).from_port_packets, passed);
    EXPECT_EQ(qos.meter(3).from_port_bytes, passed * 1000ull);
    EXPECT_EQ(qos.meter(3).rate_limited_drops, 10'000u - passed);
    // An unconfigured port is only metered.
    vs::HookContext other{4, 4, vs::Direction::from_port, 0};
    EXPECT_TRUE(qos.ingress(other, frame).pass);
    EXPECT_EQ(qos.meter(4).from_port_bytes, 1000u);
}

TEST(VswitchQosHook, SharedEgressQueuesAndPollTransmits) {
    std::vector<vs::Frame*> ring(kMaxClasses * 8);
    EgressScheduler scheduler =
        EgressScheduler::create({8'000'000, MinimumMode::weight, 2000}, ring, 0).release_value();
    SwitchQos qos;
    ASSERT_FALSE(qos.configure_port(1, {.egress_class = {.weight = 50}}, 0).is_error());
    ASSERT_FALSE(qos.attach_scheduler(0, &scheduler, 0).is_error());
    std::array<vs::Frame, 12> frames{};
    for (vs::Frame& f : frames) {
        f.length = 1000;
        f.ingress_port = 1;
    }
    vs::HookContext uplink{0, 1, vs::Direction::to_port, 0};
    uint32_t queued = 0, full = 0;
    for (vs::Frame& f : frames) {
        vs::QosResult r = qos.egress(uplink, f);
        if (r.action == vs::QosAction::queued)
            ++queued;
        else if (r.action == vs::QosAction::drop && r.reason == vs::DropReason::qos_queue_full)
            ++full;
    }
    EXPECT_EQ(queued, 8u);
    EXPECT_EQ(full, 4u);
    EXPECT_EQ(qos.meter(0).queue_full_drops, 4u);
    Collector collector;
    // 1 MB/s link with a 2 kB burst: two frames now, then one per millisecond.
    EXPECT_EQ(qos.poll(0, collector), 2u);
    EXPECT_EQ(qos.poll(1 * kMs, collector), 1u);
    // The link banks at most its burst: after a long pause two frames, not everything.
    EXPECT_EQ(qos.poll(100 * kMs, collector), 2u);
    for (uint64_t t = 101; t <= 103; ++t)
        EXPECT_EQ(qos.poll(t * kMs, collector), 1u);
    EXPECT_EQ(qos.poll(200 * kMs, collector), 0u); // drained
    ASSERT_EQ(collector.sent.size(), 8u);
    EXPECT_EQ(collector.sent[0].first, 0);
    EXPECT_EQ(collector.sent[0].second, &frames[0]); // FIFO within a class
    EXPECT_EQ(qos.meter(0).to_port_packets, 8u);
    EXPECT_EQ(qos.meter(0).to_port_bytes, 8000u);
    // A frame with no VM behind it (switch-generated) bypasses the scheduler.
    vs::Frame generated;
    generated.length = 60;
    EXPECT_EQ(qos.egress(uplink, generated).action, vs::QosAction::pass);
}

} // namespace
