// CpuScheduler::pick(): bring the queue up to `now` (new window, wakes from other CPUs, expired
// timers), then choose by limit, reserve, weight, in that order (see cpu_scheduler.hpp).
#include "sched/cpu_scheduler.hpp"
#include "sched/share_math.hpp"

namespace halcyon::sched {
namespace {

uint64_t saturating_add(uint64_t a, uint64_t b) {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

} // namespace

Decision CpuScheduler::pick(uint64_t now) {
    // The floor that waking entities are raised to is the queue as it was before they joined.
    update_min_vruntime();
    roll_window(now);
    collect_wakes();
    expire_timers(now);

    Decision decision;
    if (Entity* entity = choose(now)) {
        decision.kind = Decision::Kind::run;
        decision.entity = id_of(static_cast<uint32_t>(entity - entities_));
        uint64_t until = saturating_add(now, slice_);
        if (entity->params.limit_percent < kNoLimitPercent) {
            const uint64_t left = limit_budget(*entity) - entity->window_used; // > 0: not throttled
            if (saturating_add(now, left) < until)
                until = saturating_add(now, left);
        }
        // A timer of a blocked entity (or a window that lets a throttled one back in) ends the
        // turn early, so that entity competes on time instead of a whole slice late.
        const uint64_t event = next_timed_event();
        decision.until = event < until ? event : until;
        return decision;
    }
    if (live_count_ == 0)
        return decision; // empty
    decision.kind = Decision::Kind::idle;
    decision.wake_at = next_timed_event();
    return decision;
}

// Monotonic, like CFS's min_vruntime: the smallest virtual time among the entities that compete
// right now (runnable and not throttled), never moving backwards.
void CpuScheduler::update_min_vruntime() {
    const Entity* lowest = nullptr;
    for (uint32_t slot = 0; slot < slot_limit_; ++slot) {
        const Entity& entity = entities_[slot];
        if (entity.state != EntityState::runnable || throttled(entity))
            continue;
        if (lowest == nullptr || math::vtime_before(entity.vruntime, lowest->vruntime))
            lowest = &entity;
    }
    if (lowest != nullptr)
        min_vruntime_ = math::vtime_max(min_vruntime_, lowest->vruntime);
}

// Starts the window that contains `now` if the current one is over: usage is reset (a limited
// entity keeps any overdraft beyond its budget, at most one budget, so a caller that overshoots
// `until` cannot exceed the limit over time) and entities that were throttled rejoin.
void CpuScheduler::roll_window(uint64_t now) {
    if (now < window_start_ || now - window_start_ < period_)
        return;
    const uint64_t windows = (now - window_start_) / period_;
    window_start_ += windows * period_;
    // charge() also gets here, between picks: bring the floor up to date before raising the
    // entities that leave their limit to it.
    update_min_vruntime();
    for (uint32_t slot = 0; slot < slot_limit_; ++slot) {
        Entity& entity = entities_[slot];
        if (entity.state == EntityState::free)
            continue;
        const bool was_throttled = throttled(entity);
        const uint64_t budget = limit_budget(entity);
        uint64_t carried = 0;
        if (windows == 1 && entity.params.limit_percent < kNoLimitPercent &&
            entity.window_used > budget) {
            carried = entity.window_used - budget;
            carried = carried > budget ? budget : carried;
        }
        entity.window_used = carried;
        if (was_throttled && entity.state == EntityState::runnable && !throttled(entity))
            make_runnable(entity, 0); // it was not asleep, only held back: no wake credit
    }
}

void CpuScheduler::collect_wakes() {
    wakes_.collect(slot_limit_, [this](uint32_t slot) {
        Entity& entity = entities_[slot];
        // A wake for a runnable entity is stale news (the interrupt it announced is already
        // visible to the vCPU when it next runs); stopped entities never wake.
        if (entity.state == EntityState::blocked)
            make_runnable(entity, wake_credit());
    });
}

void CpuScheduler::expire_timers(uint64_t now) {
    for (uint32_t slot = 0; slot < slot_limit_; ++slot) {
        Entity& entity = entities_[slot];
        if (entity.state == EntityState::blocked && entity.wake_at <= now)
            make_runnable(entity, wake_credit());
    }
}

CpuScheduler::Entity* CpuScheduler::choose(uint64_t now) {
    const uint64_t elapsed = now >= window_start_ ? now - window_start_ : 0;
    const uint64_t horizon = saturating_add(elapsed, slice_);
    Entity* reserve_pick = nullptr;
    Entity* fair_pick = nullptr;
    for (uint32_t slot = 0; slot < slot_limit_; ++slot) {
        Entity& entity = entities_[slot];
        if (entity.state != EntityState::runnable || throttled(entity))
            continue;
        const uint32_t reserve = entity.params.reserve_percent;
        if (math::behind_reserve(entity.window_used, reserve, horizon, period_) &&
            (reserve_pick == nullptr ||
             math::further_behind(entity.window_used, reserve, reserve_pick->window_used,
                                  reserve_pick->params.reserve_percent)))
            reserve_pick = &entity;
        if (fair_pick == nullptr || math::vtime_before(entity.vruntime, fair_pick->vruntime))
            fair_pick = &entity;
    }
    return reserve_pick != nullptr ? reserve_pick : fair_pick;
}

// The earliest moment the set of candidates grows by itself: a blocked entity's timer, or the
// next window when a runnable entity is throttled. kNoEvent if neither exists.
uint64_t CpuScheduler::next_timed_event() const {
    uint64_t earliest = kNoEvent;
    bool any_throttled = false;
    for (uint32_t slot = 0; slot < slot_limit_; ++slot) {
        const Entity& entity = entities_[slot];
        if (entity.state == EntityState::blocked && entity.wake_at < earliest)
            earliest = entity.wake_at;
        if (entity.state == EntityState::runnable && throttled(entity))
            any_throttled = true;
    }
    const uint64_t window_end = saturating_add(window_start_, period_);
    if (any_throttled && window_end < earliest)
        earliest = window_end;
    return earliest;
}

} // namespace halcyon::sched
