// Halted vCPUs: blocked entities get no CPU, wake on their timer or on wake(), the idle decision
// names the earliest wake-up, a woken entity gets no credit for its sleep, stopped entities are
// gone for good, and limits throttle window by window.
#include "sched/cpu_scheduler.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace {

using namespace halcyon::sched;
using Kind = Decision::Kind;

constexpr uint64_t kHz = 1'000'000'000;
constexpr uint64_t kMs = kHz / 1000;

std::unique_ptr<CpuScheduler> make_scheduler(uint64_t slice = 10 * kMs) {
    return std::make_unique<CpuScheduler>(kHz, slice);
}

EntityId add(CpuScheduler& scheduler, GroupParams params = {}) {
    auto id = scheduler.add(params);
    EXPECT_FALSE(id.is_error()) << id.error().message();
    return id.is_error() ? EntityId{} : id.value();
}

// Runs every run decision to its `until` and sleeps through idle ones, from `now` to `end`.
uint64_t run_until(CpuScheduler& scheduler, uint64_t now, uint64_t end) {
    while (now < end) {
        const Decision decision = scheduler.pick(now);
        if (decision.kind == Kind::empty)
            return end;
        if (decision.kind == Kind::idle) {
            now = decision.wake_at < end ? decision.wake_at : end;
            continue;
        }
        const uint64_t stop = decision.until < end ? decision.until : end;
        EXPECT_FALSE(scheduler.charge(decision.entity, stop - now, stop).is_error());
        now = stop;
    }
    return now;
}

uint64_t ran(const CpuScheduler& scheduler, EntityId id) {
    return scheduler.info(id).value().total_ran;
}

TEST(SchedBlocking, BlockedEntityGetsNothing) {
    auto scheduler = make_scheduler();
    const EntityId sleeper = add(*scheduler);
    const EntityId worker = add(*scheduler);
    ASSERT_FALSE(scheduler->block(sleeper, kNoEvent).is_error());
    run_until(*scheduler, 0, 1 * kHz);
    EXPECT_EQ(ran(*scheduler, sleeper), 0u);
    EXPECT_EQ(ran(*scheduler, worker), 1 * kHz);
    EXPECT_EQ(scheduler->info(sleeper).value().state, EntityState::blocked);
}

TEST(SchedBlocking, TimerDeadlineEndsTheOtherTurnAndWakesTheEntity) {
    auto scheduler = make_scheduler();
    const EntityId sleeper = add(*scheduler); // slot 0: wins ties
    const EntityId worker = add(*scheduler);
    ASSERT_FALSE(scheduler->block(sleeper, 3 * kMs).is_error());
    const Decision first = scheduler->pick(0);
    ASSERT_EQ(first.kind, Kind::run);
    EXPECT_EQ(first.entity, worker);
    EXPECT_EQ(first.until, 3 * kMs); // cut at the sleeper's deadline, not the 10 ms slice
    ASSERT_FALSE(scheduler->charge(worker, 3 * kMs, 3 * kMs).is_error());
    const Decision second = scheduler->pick(3 * kMs);
    ASSERT_EQ(second.kind, Kind::run);
    EXPECT_EQ(second.entity, sleeper);
    EXPECT_EQ(scheduler->info(sleeper).value().state, EntityState::runnable);
}

TEST(SchedBlocking, DeadlineAlreadyPastWakesAtTheNextPick) {
    auto scheduler = make_scheduler();
    const EntityId id = add(*scheduler);
    ASSERT_FALSE(scheduler->block(id, 5 * kMs).is_error());
    const Decision decision = scheduler->pick(7 * kMs);
    ASSERT_EQ(decision.kind, Kind::run);
    EXPECT_EQ(decision.entity, id);
}

TEST(SchedBlocking, ExplicitWakeWithoutTimer) {
    auto scheduler = make_scheduler();
    const EntityId id = add(*scheduler);
    ASSERT_FALSE(scheduler->block(id, kNoEvent).is_error());
    const Decision idle = scheduler->pick(0);
    ASSERT_EQ(idle.kind, Kind::idle);
    EXPECT_EQ(idle.wake_at, kNoEvent);
    EXPECT_FALSE(scheduler->wake_pending());
    EXPECT_TRUE(scheduler->wake(id));  // first wake: kick the owner
    EXPECT_FALSE(scheduler->wake(id)); // already pending: no second kick
    EXPECT_TRUE(scheduler->wake_pending());
    EXPECT_EQ(scheduler->info(id).value().state, EntityState::blocked); // until pick() runs
    const Decision run = scheduler->pick(1 * kMs);
    ASSERT_EQ(run.kind, Kind::run);
    EXPECT_EQ(run.entity, id);
    EXPECT_FALSE(scheduler->wake_pending());
}

TEST(SchedBlocking, WakeBeforeBlockIsNotLost) {
    // The interrupt lands between the caller's "nothing pending, halt" check and block().
    auto scheduler = make_scheduler();
    const EntityId id = add(*scheduler);
    EXPECT_TRUE(scheduler->wake(id));
    ASSERT_FALSE(scheduler->block(id, kNoEvent).is_error());
    const Decision decision = scheduler->pick(0);
    ASSERT_EQ(decision.kind, Kind::run);
    EXPECT_EQ(decision.entity, id);
}

TEST(SchedBlocking, WakeOfARunnableEntityChangesNothing) {
    auto scheduler = make_scheduler();
    const EntityId a = add(*scheduler);
    const EntityId b = add(*scheduler);
    run_until(*scheduler, 0, 100 * kMs);
    const uint64_t before = scheduler->info(b).value().vruntime;
    (void)scheduler->wake(b);
    run_until(*scheduler, 100 * kMs, 200 * kMs);
    EXPECT_EQ(ran(*scheduler, a), ran(*scheduler, b));
    EXPECT_EQ(scheduler->info(b).value().vruntime, before + 50 * kMs);
    // The consumed wake does not linger: after a block, the entity really sleeps.
    ASSERT_FALSE(scheduler->block(b, kNoEvent).is_error());
    EXPECT_EQ(scheduler->pick(200 * kMs).entity, a);
    EXPECT_EQ(scheduler->info(b).value().state, EntityState::blocked);
}

TEST(SchedBlocking, IdleDecisionNamesTheEarliestWakeUp) {
    auto scheduler = make_scheduler();
    const EntityId a = add(*scheduler);
    const EntityId b = add(*scheduler);
    const EntityId c = add(*scheduler);
    ASSERT_FALSE(scheduler->block(a, 50 * kMs).is_error());
    ASSERT_FALSE(scheduler->block(b, 20 * kMs).is_error());
    ASSERT_FALSE(scheduler->block(c, 30 * kMs).is_error());
    const Decision idle = scheduler->pick(1 * kMs);
    ASSERT_EQ(idle.kind, Kind::idle);
    EXPECT_EQ(idle.wake_at, 20 * kMs);
    const Decision run = scheduler->pick(20 * kMs);
    ASSERT_EQ(run.kind, Kind::run);
    EXPECT_EQ(run.entity, b);
    EXPECT_EQ(run.until, 30 * kMs); // c's deadline comes before the slice ends
}

TEST(SchedBlocking, IdleDecisionIncludesTheNextWindowForAThrottledEntity) {
    auto scheduler = make_scheduler();
    const EntityId capped = add(*scheduler, GroupParams{100, 0, 10});
    const EntityId sleeper = add(*scheduler);
    ASSERT_FALSE(scheduler->block(sleeper, 250 * kMs).is_error());
    const Decision run = scheduler->pick(0);
    ASSERT_EQ(run.entity, capped);
    EXPECT_EQ(run.until, 10 * kMs); // 10% of the 100 ms window
    ASSERT_FALSE(scheduler->charge(capped, 10 * kMs, 10 * kMs).is_error());
    const Decision idle = scheduler->pick(10 * kMs);
    ASSERT_EQ(idle.kind, Kind::idle);
    EXPECT_EQ(idle.wake_at, 100 * kMs); // the window that lets `capped` run again
    EXPECT_EQ(scheduler->pick(100 * kMs).entity, capped);
}

TEST(SchedBlocking, LimitHoldsInEveryWindow) {
    auto scheduler = make_scheduler(7 * kMs); // slices that do not divide the budget
    const EntityId capped = add(*scheduler, GroupParams{100, 0, 30});
    uint64_t now = 0;
    for (uint64_t window = 0; window < 20; ++window) {
        const uint64_t before = ran(*scheduler, capped);
        now = run_until(*scheduler, now, (window + 1) * 100 * kMs);
        EXPECT_EQ(ran(*scheduler, capped) - before, 30 * kMs) << window;
    }
}

TEST(SchedBlocking, WokenEntityIsClampedToTheQueueMinimum) {
    auto scheduler = make_scheduler();
    const EntityId worker = add(*scheduler);
    const EntityId sleeper = add(*scheduler); // slot 1: loses ties, so only the credit helps it
    ASSERT_FALSE(scheduler->block(sleeper, kNoEvent).is_error());
    uint64_t now = run_until(*scheduler, 0, 2 * kHz);
    EXPECT_EQ(scheduler->info(sleeper).value().vruntime, 0u);
    (void)scheduler->wake(sleeper);
    const Decision decision = scheduler->pick(now);
    // Raised to the queue minimum less half a slice: picked at once, but 2 s of sleep bought
    // nothing more.
    ASSERT_EQ(decision.kind, Kind::run);
    EXPECT_EQ(decision.entity, sleeper);
    const uint64_t floor = scheduler->min_vruntime();
    EXPECT_EQ(floor, scheduler->info(worker).value().vruntime);
    EXPECT_EQ(scheduler->wake_credit(), 5 * kMs);
    EXPECT_EQ(scheduler->info(sleeper).value().vruntime, floor - 5 * kMs);
    // From here on they share equally.
    const uint64_t worker_before = ran(*scheduler, worker);
    ASSERT_FALSE(scheduler->charge(sleeper, 10 * kMs, now + 10 * kMs).is_error());
    run_until(*scheduler, now + 10 * kMs, now + 1 * kHz);
    EXPECT_NEAR(static_cast<double>(ran(*scheduler, sleeper)), 0.5 * kHz, 0.02 * kHz);
    EXPECT_NEAR(static_cast<double>(ran(*scheduler, worker) - worker_before), 0.5 * kHz,
                0.02 * kHz);
}

TEST(SchedBlocking, ThrottledEntityGetsNoWakeCredit) {
    auto scheduler = make_scheduler();
    const EntityId capped = add(*scheduler, GroupParams{10000, 0, 10});
    const EntityId other = add(*scheduler);
    run_until(*scheduler, 0, 2 * kHz);
    // Weight 10000 keeps capped's virtual time far behind; when its window opens it is raised
    // exactly to the queue minimum (it was held back, not asleep).
    const Decision decision = scheduler->pick(2 * kHz);
    EXPECT_EQ(decision.entity, capped);
    EXPECT_EQ(scheduler->info(capped).value().vruntime, scheduler->min_vruntime());
    EXPECT_EQ(scheduler->min_vruntime(), scheduler->info(other).value().vruntime);
}

TEST(SchedBlocking, NewcomerStartsAtTheQueueMinimum) {
    auto scheduler = make_scheduler();
    add(*scheduler);
    const uint64_t now = run_until(*scheduler, 0, 1 * kHz);
    const EntityId late = add(*scheduler);
    EXPECT_EQ(scheduler->info(late).value().vruntime, scheduler->min_vruntime());
    EXPECT_GT(scheduler->min_vruntime(), 0u);
    run_until(*scheduler, now, now + 1 * kHz);
    EXPECT_NEAR(static_cast<double>(ran(*scheduler, late)), 0.5 * kHz, 0.02 * kHz);
}

TEST(SchedBlocking, StoppedEntityNeverRunsAgain) {
    auto scheduler = make_scheduler();
    const EntityId a = add(*scheduler);
    const EntityId b = add(*scheduler, GroupParams{100, 30, 100});
    EXPECT_EQ(scheduler->reserved_percent(), 30u);
    ASSERT_FALSE(scheduler->stop(b).is_error());
    EXPECT_EQ(scheduler->reserved_percent(), 0u); // a stopped vCPU gives its reserve back
    EXPECT_EQ(scheduler->live_count(), 1u);
    (void)scheduler->wake(b);
    run_until(*scheduler, 0, 100 * kMs);
    EXPECT_EQ(ran(*scheduler, b), 0u);
    EXPECT_EQ(scheduler->block(b, kNoEvent).error().code(), halcyon::ErrorCode::invalid_argument);
    ASSERT_FALSE(scheduler->stop(a).is_error());
    EXPECT_EQ(scheduler->pick(100 * kMs).kind, Kind::empty);
    EXPECT_FALSE(scheduler->remove(b).is_error());
}

TEST(SchedBlocking, AllBlockedWithoutTimersIdlesForever) {
    auto scheduler = make_scheduler();
    ASSERT_FALSE(scheduler->block(add(*scheduler), kNoEvent).is_error());
    ASSERT_FALSE(scheduler->block(add(*scheduler), kNoEvent).is_error());
    const Decision decision = scheduler->pick(5 * kHz);
    EXPECT_EQ(decision.kind, Kind::idle);
    EXPECT_EQ(decision.wake_at, kNoEvent);
}

} // namespace
