// wake() from other CPUs (host threads here): no wake is ever lost against the owner's
// block/pick cycle, a stale id never wakes a slot's next occupant, and the "kick" result is
// returned once per batch of wakes the owner has not yet collected.
#include "sched/cpu_scheduler.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace {

using namespace halcyon::sched;
using Kind = Decision::Kind;

constexpr uint64_t kHz = 1'000'000'000;
constexpr uint64_t kMs = kHz / 1000;

TEST(SchedWake, NoWakeIsLostAcrossThreads) {
    auto scheduler = std::make_unique<CpuScheduler>(kHz, 10 * kMs);
    const EntityId id = scheduler->add(GroupParams{}).value();
    constexpr uint32_t kRounds = 20'000;
    std::atomic<uint32_t> round{0};
    std::atomic<uint32_t> kicks{0};
    std::thread waker([&] {
        for (uint32_t r = 1; r <= kRounds; ++r) {
            while (round.load(std::memory_order_acquire) < r)
                std::this_thread::yield();
            if (scheduler->wake(id))
                kicks.fetch_add(1, std::memory_order_relaxed);
        }
    });
    uint64_t now = 0;
    uint32_t woken = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (uint32_t r = 1; r <= kRounds; ++r) {
        ASSERT_FALSE(scheduler->block(id, kNoEvent).is_error());
        round.store(r, std::memory_order_release);
        for (;;) {
            const Decision decision = scheduler->pick(++now);
            if (decision.kind == Kind::run) {
                ASSERT_EQ(decision.entity, id);
                ++woken;
                break;
            }
            ASSERT_EQ(decision.kind, Kind::idle);
            ASSERT_EQ(decision.wake_at, kNoEvent);
            ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "wake lost in round " << r;
            std::this_thread::yield();
        }
    }
    waker.join();
    EXPECT_EQ(woken, kRounds);
    // Each round's wake found the board clear (the owner collected the previous one).
    EXPECT_EQ(kicks.load(), kRounds);
}

TEST(SchedWake, ManyWakersOneKickPerCollection) {
    auto scheduler = std::make_unique<CpuScheduler>(kHz, 10 * kMs);
    std::vector<EntityId> ids;
    for (int i = 0; i < 8; ++i) {
        ids.push_back(scheduler->add(GroupParams{}).value());
        ASSERT_FALSE(scheduler->block(ids.back(), kNoEvent).is_error());
    }
    std::atomic<uint32_t> kicks{0};
    std::vector<std::thread> wakers;
    for (int t = 0; t < 4; ++t)
        wakers.emplace_back([&, t] {
            for (int i = t; i < 8; i += 2) // every entity is woken by two threads
                if (scheduler->wake(ids[i]))
                    kicks.fetch_add(1);
        });
    for (auto& thread : wakers)
        thread.join();
    EXPECT_EQ(kicks.load(), 1u); // nobody collected in between: one kick covers them all
    (void)scheduler->pick(1);
    for (const EntityId id : ids)
        EXPECT_EQ(scheduler->info(id).value().state, EntityState::runnable);
    EXPECT_FALSE(scheduler->wake_pending());
}

TEST(SchedWake, StaleIdsNeverWakeTheNextOccupant) {
    auto scheduler = std::make_unique<CpuScheduler>(kHz, 10 * kMs);
    constexpr uint32_t kGenerations = 300;
    std::atomic<uint32_t> published{0}; // how many old ids the flooder may use
    std::vector<uint32_t> old_ids(kGenerations, 0);
    std::atomic<bool> done{false};
    std::atomic<uint64_t> passes{0};
    std::thread flooder([&] {
        while (!done.load(std::memory_order_acquire)) {
            const uint32_t count = published.load(std::memory_order_acquire);
            for (uint32_t i = 0; i < count; ++i)
                (void)scheduler->wake(EntityId::from_value(old_ids[i]));
            passes.fetch_add(1, std::memory_order_acq_rel);
        }
    });
    uint64_t now = 0;
    for (uint32_t g = 0; g < kGenerations; ++g) {
        const EntityId id = scheduler->add(GroupParams{}).value();
        ASSERT_EQ(id.slot(), 0u);
        ASSERT_FALSE(scheduler->block(id, kNoEvent).is_error());
        // Let the flooder finish a whole pass over every old id while this occupant is there.
        const uint64_t seen = passes.load(std::memory_order_acquire);
        while (passes.load(std::memory_order_acquire) < seen + 2)
            std::this_thread::yield();
        for (int spin = 0; spin < 3; ++spin) {
            const Decision decision = scheduler->pick(++now);
            ASSERT_EQ(decision.kind, Kind::idle) << "a stale id woke generation " << g;
        }
        ASSERT_FALSE(scheduler->remove(id).is_error());
        old_ids[g] = id.value();
        published.store(g + 1, std::memory_order_release);
    }
    done.store(true, std::memory_order_release);
    flooder.join();
}

} // namespace
