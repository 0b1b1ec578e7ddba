// The scheduler's contract at its edges: parameter validation, capacity and reserve admission
// errors, stale ids, removal while runnable, moving a vCPU between CPUs, window accounting of a
// charge, and the arithmetic helpers.
#include "sched/cpu_scheduler.hpp"
#include "sched/share_math.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

namespace {

using namespace halcyon::sched;
using halcyon::ErrorCode;
using Kind = Decision::Kind;

constexpr uint64_t kHz = 1'000'000'000;
constexpr uint64_t kMs = kHz / 1000;

std::unique_ptr<CpuScheduler> make_scheduler() {
    return std::make_unique<CpuScheduler>(kHz, 10 * kMs);
}

ErrorCode code_of(const halcyon::ErrorOr<void>& result) {
    EXPECT_TRUE(result.is_error());
    return result.error().code();
}

TEST(SchedApi, ParamsAreValidated) {
    EXPECT_FALSE(validate(GroupParams{}).is_error());
    EXPECT_FALSE(validate(GroupParams{1, 100, 100}).is_error());
    EXPECT_FALSE(validate(GroupParams{10000, 0, 1}).is_error());
    EXPECT_EQ(code_of(validate(GroupParams{0, 0, 100})), ErrorCode::out_of_range);
    EXPECT_EQ(code_of(validate(GroupParams{10001, 0, 100})), ErrorCode::out_of_range);
    EXPECT_EQ(code_of(validate(GroupParams{100, 101, 100})), ErrorCode::out_of_range);
    EXPECT_EQ(code_of(validate(GroupParams{100, 0, 0})), ErrorCode::out_of_range);
    EXPECT_EQ(code_of(validate(GroupParams{100, 0, 101})), ErrorCode::out_of_range);
    const auto reserve_over_limit = validate(GroupParams{100, 50, 40});
    EXPECT_EQ(code_of(reserve_over_limit), ErrorCode::invalid_argument);
    EXPECT_NE(std::strstr(reserve_over_limit.error().message(), "exceeds the processor limit"),
              nullptr);
    auto scheduler = make_scheduler();
    EXPECT_TRUE(scheduler->add(GroupParams{0, 0, 100}).is_error());
    EXPECT_EQ(scheduler->live_count(), 0u);
}

TEST(SchedApi, RunQueueCapacityIsAClearError) {
    auto scheduler = make_scheduler();
    EntityId ids[kMaxEntitiesPerCpu];
    for (auto& id : ids) {
        auto added = scheduler->add(GroupParams{});
        ASSERT_FALSE(added.is_error());
        id = added.value();
    }
    EXPECT_EQ(scheduler->live_count(), kMaxEntitiesPerCpu);
    auto full = scheduler->add(GroupParams{});
    ASSERT_TRUE(full.is_error());
    EXPECT_EQ(full.error().code(), ErrorCode::out_of_memory);
    EXPECT_NE(std::strstr(full.error().message(), "run queue is full"), nullptr);
    // Every one of the 256 is scheduled.
    uint64_t now = 0;
    for (uint32_t turn = 0; turn < kMaxEntitiesPerCpu; ++turn) {
        const Decision decision = scheduler->pick(now);
        ASSERT_EQ(decision.kind, Kind::run);
        now = decision.until;
        ASSERT_FALSE(scheduler->charge(decision.entity, 10 * kMs, now).is_error());
    }
    for (const EntityId id : ids)
        EXPECT_EQ(scheduler->info(id).value().total_ran, 10 * kMs);
    // A freed slot is reused under a new id; the old id is stale from then on.
    ASSERT_FALSE(scheduler->remove(ids[17]).is_error());
    auto again = scheduler->add(GroupParams{});
    ASSERT_FALSE(again.is_error());
    EXPECT_EQ(again.value().slot(), ids[17].slot());
    EXPECT_NE(again.value(), ids[17]);
    EXPECT_EQ(code_of(scheduler->block(ids[17], kNoEvent)), ErrorCode::not_found);
    EXPECT_FALSE(scheduler->wake(ids[17]));
}

TEST(SchedApi, ReservesOnOneCpuCannotExceedAHundredPercent) {
    auto scheduler = make_scheduler();
    const EntityId sixty = scheduler->add(GroupParams{100, 60, 100}).value();
    const EntityId forty = scheduler->add(GroupParams{100, 40, 100}).value();
    auto over = scheduler->add(GroupParams{100, 1, 100});
    ASSERT_TRUE(over.is_error());
    EXPECT_EQ(over.error().code(), ErrorCode::out_of_range);
    EXPECT_NE(std::strstr(over.error().message(), "exceed 100%"), nullptr);
    EXPECT_FALSE(scheduler->add(GroupParams{100, 0, 100}).is_error()); // no reserve: fine
    // Raising a reserve is checked too, and a refused change leaves the old params.
    EXPECT_EQ(code_of(scheduler->set_params(forty, GroupParams{100, 41, 100})),
              ErrorCode::out_of_range);
    EXPECT_EQ(scheduler->info(forty).value().params.reserve_percent, 40u);
    ASSERT_FALSE(scheduler->set_params(sixty, GroupParams{500, 10, 50}).is_error());
    EXPECT_EQ(scheduler->reserved_percent(), 50u);
    EXPECT_EQ(scheduler->info(sixty).value().params, (GroupParams{500, 10, 50}));
    ASSERT_FALSE(scheduler->remove(forty).is_error());
    EXPECT_EQ(scheduler->reserved_percent(), 10u);
    EXPECT_FALSE(scheduler->add(GroupParams{100, 90, 100}).is_error());
}

TEST(SchedApi, InvalidAndStaleIdsAreRefused) {
    auto scheduler = make_scheduler();
    EXPECT_EQ(code_of(scheduler->charge(EntityId{}, 1, 1)), ErrorCode::invalid_argument);
    EXPECT_EQ(code_of(scheduler->remove(EntityId::make(3, 1))), ErrorCode::not_found);
    EXPECT_TRUE(scheduler->info(EntityId::make(0, 7)).is_error());
    EXPECT_FALSE(scheduler->wake(EntityId{}));
    EXPECT_FALSE(scheduler->wake(EntityId::make(200, 1)));
    EXPECT_FALSE(scheduler->wake_pending());
}

TEST(SchedApi, RemoveWhileRunnable) {
    auto scheduler = make_scheduler();
    const EntityId a = scheduler->add(GroupParams{}).value();
    const EntityId b = scheduler->add(GroupParams{}).value();
    const Decision decision = scheduler->pick(0);
    ASSERT_EQ(decision.entity, a);
    ASSERT_FALSE(scheduler->remove(a).is_error()); // e.g. the VM was turned off meanwhile
    EXPECT_EQ(code_of(scheduler->charge(a, 10 * kMs, 10 * kMs)), ErrorCode::not_found);
    EXPECT_EQ(scheduler->live_count(), 1u);
    for (uint64_t now = 10 * kMs; now < 100 * kMs; now += 10 * kMs) {
        const Decision next = scheduler->pick(now);
        ASSERT_EQ(next.kind, Kind::run);
        EXPECT_EQ(next.entity, b);
        ASSERT_FALSE(scheduler->charge(b, 10 * kMs, now + 10 * kMs).is_error());
    }
    ASSERT_FALSE(scheduler->remove(b).is_error());
    EXPECT_EQ(scheduler->pick(100 * kMs).kind, Kind::empty);
}

TEST(SchedApi, MovingAVcpuToAnotherCpu) {
    auto cpu0 = make_scheduler();
    auto cpu1 = make_scheduler();
    const EntityId stay = cpu0->add(GroupParams{}).value();
    const EntityId mover = cpu0->add(GroupParams{300, 20, 100}).value();
    const EntityId local = cpu1->add(GroupParams{}).value();
    for (uint64_t now = 0; now < 500 * kMs; now += 10 * kMs) {
        const Decision decision = cpu1->pick(now);
        ASSERT_FALSE(cpu1->charge(decision.entity, 10 * kMs, now + 10 * kMs).is_error());
    }
    const GroupParams params = cpu0->info(mover).value().params;
    ASSERT_FALSE(cpu0->remove(mover).is_error());
    EXPECT_EQ(cpu0->reserved_percent(), 0u);
    const EntityId moved = cpu1->add(params).value();
    EXPECT_EQ(cpu1->reserved_percent(), 20u);
    // It joins level with cpu1's queue, not with the virtual time it had (or lacked) on cpu0.
    EXPECT_EQ(cpu1->info(moved).value().vruntime, cpu1->min_vruntime());
    EXPECT_GT(cpu1->min_vruntime(), 0u);
    // A wake aimed at the old id is dropped; the new id works.
    EXPECT_FALSE(cpu0->wake(mover));
    ASSERT_FALSE(cpu1->block(moved, kNoEvent).is_error());
    EXPECT_TRUE(cpu1->wake(moved));
    EXPECT_EQ(cpu0->pick(500 * kMs).entity, stay);
    (void)cpu1->pick(500 * kMs);
    EXPECT_EQ(cpu1->info(moved).value().state, EntityState::runnable);
    EXPECT_EQ(cpu1->info(local).value().state, EntityState::runnable);
}

TEST(SchedApi, ChargeCountsOnlyTheCurrentWindow) {
    auto scheduler = make_scheduler();
    const EntityId id = scheduler->add(GroupParams{100, 0, 50}).value();
    ASSERT_FALSE(scheduler->charge(id, 20 * kMs, 40 * kMs).is_error());
    EXPECT_EQ(scheduler->info(id).value().window_used, 20 * kMs);
    // 60 ms ending 30 ms into the next window: 30 ms count in it.
    ASSERT_FALSE(scheduler->charge(id, 60 * kMs, 130 * kMs).is_error());
    EXPECT_EQ(scheduler->info(id).value().window_used, 30 * kMs);
    EXPECT_EQ(scheduler->info(id).value().total_ran, 80 * kMs);
}

TEST(SchedApi, LimitOverdraftCarriesIntoTheNextWindowOnly) {
    auto scheduler = make_scheduler();
    const EntityId id = scheduler->add(GroupParams{100, 0, 30}).value();
    const Decision decision = scheduler->pick(0);
    EXPECT_EQ(decision.until, 10 * kMs);
    ASSERT_FALSE(scheduler->charge(id, 25 * kMs, 25 * kMs).is_error());
    EXPECT_EQ(scheduler->pick(25 * kMs).until, 30 * kMs);               // 5 ms of budget left
    ASSERT_FALSE(scheduler->charge(id, 25 * kMs, 50 * kMs).is_error()); // 20 ms late
    EXPECT_EQ(scheduler->pick(50 * kMs).kind, Kind::idle);
    // Next window: the 20 ms overdraft is owed, 10 ms of budget remain.
    const Decision next = scheduler->pick(100 * kMs);
    EXPECT_EQ(scheduler->info(id).value().window_used, 20 * kMs);
    EXPECT_EQ(next.until, 110 * kMs);
    // After a window with no overdraft (or a long absence) nothing is owed.
    ASSERT_FALSE(scheduler->block(id, kNoEvent).is_error());
    (void)scheduler->wake(id);
    (void)scheduler->pick(900 * kMs);
    EXPECT_EQ(scheduler->info(id).value().window_used, 0u);
}

TEST(SchedApi, ConstructorRaisesDegenerateValues) {
    CpuScheduler scheduler(0, 0);
    EXPECT_EQ(scheduler.slice_ticks(), 1u);
    EXPECT_EQ(scheduler.period_ticks(), 100u); // 1 kHz minimum -> 100-tick windows
    auto id = scheduler.add(GroupParams{});
    ASSERT_FALSE(id.is_error());
    EXPECT_EQ(scheduler.pick(0).until, 1u);
}

TEST(SchedApi, SchedulerTimeNearTheEndOfTheClock) {
    auto scheduler = make_scheduler();
    const EntityId id = scheduler->add(GroupParams{100, 0, 100}).value();
    const Decision decision = scheduler->pick(UINT64_MAX - 5);
    ASSERT_EQ(decision.kind, Kind::run);
    EXPECT_EQ(decision.entity, id);
    EXPECT_EQ(decision.until, UINT64_MAX); // saturates instead of wrapping
}

TEST(SchedMath, WeightedAdvanceKeepsTheRemainder) {
    uint32_t remainder = 0;
    uint64_t total = 0;
    for (int i = 0; i < 100; ++i)
        total += math::weighted_advance(1, 10000, remainder); // 1/100 virtual tick each
    EXPECT_EQ(total, 1u);
    EXPECT_EQ(remainder, 0u);
    EXPECT_EQ(math::weighted_advance(300, 300, remainder), 100u);
    EXPECT_EQ(math::weighted_advance(7, 1, remainder), 700u);
    EXPECT_GT(math::weighted_advance(UINT64_MAX, 1, remainder), 0u); // clamped, no overflow
}

TEST(SchedMath, VirtualTimeComparesAcrossTheWrap) {
    EXPECT_TRUE(math::vtime_before(UINT64_MAX - 10, 5));
    EXPECT_EQ(math::vtime_max(UINT64_MAX - 10, 5), 5u);
    EXPECT_EQ(math::vtime_max(5, 4), 5u);
}

TEST(SchedMath, ReservePacing) {
    const uint64_t period = 100 * kMs;
    // 40% reserve, 30 ms into the window with a 10 ms slice: owed 16 ms by the next pick.
    EXPECT_TRUE(math::behind_reserve(15 * kMs, 40, 40 * kMs, period));
    EXPECT_FALSE(math::behind_reserve(16 * kMs, 40, 40 * kMs, period));
    EXPECT_TRUE(math::behind_reserve(39 * kMs, 40, 500 * kMs, period)); // capped at the window
    EXPECT_FALSE(math::behind_reserve(40 * kMs, 40, 500 * kMs, period));
    EXPECT_FALSE(math::behind_reserve(0, 0, period, period));
    EXPECT_TRUE(math::further_behind(10, 50, 10, 20)); // 10/50 < 10/20
}

} // namespace
