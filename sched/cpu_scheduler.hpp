// One physical CPU's vCPU scheduler: the policy only, as a pure library. The caller (the VM
// worker's run loop on that CPU) owns the clock and the hardware: it asks pick(now) what to do,
// runs the vCPU, then reports the time used with charge(). See docs/scheduler.md.
//
// Policy, in order of precedence:
//  1. limit: an entity that used its limit share of the current accounting window (100 ms) is
//     not picked until the next window; while it may run, `until` stops it at its budget.
//  2. reserve: a runnable entity behind its paced reserve share of the window is picked first
//     (the one furthest behind, relative to its reserve).
//  3. weight: otherwise the runnable entity with the smallest virtual time runs, where virtual
//     time advances by ran * 100 / weight (weighted fair sharing, as in CFS). An entity that
//     starts or leaves its limit rejoins no earlier than the queue's minimum virtual time; one
//     that wakes up no earlier than that minimum less half a slice (CFS's "gentle" sleeper
//     credit): enough to be picked at once when its interrupt or timer arrives, never more, so
//     time spent asleep is not banked as credit.
// Ties go to the lower slot, so the same inputs always give the same decisions. Blocked and
// stopped entities cost nothing. Scans are linear over at most kMaxEntitiesPerCpu slots.
//
// Concurrency: every member except wake() and wake_pending() belongs to the owning CPU (the
// caller serializes them). wake() may be called from any CPU at any time; see wake_board.hpp.
#pragma once

#include "lib/base/error_or.hpp"
#include "sched/params.hpp"
#include "sched/wake_board.hpp"

#include <stdint.h>

namespace halcyon::sched {

inline constexpr uint64_t kNoEvent = UINT64_MAX;
// Accounting windows for reserve and limit: 1/10 s, Hyper-V-like granularity.
inline constexpr uint64_t kWindowsPerSecond = 10;

enum class EntityState : uint8_t { free, runnable, blocked, stopped };

struct Decision {
    enum class Kind : uint8_t {
        run,   // run `entity` and give the CPU back at or before `until`
        idle,  // nothing may run now: halt until `wake_at` (kNoEvent: only wake() ends it)
        empty, // no live entity: this CPU has nothing left to schedule
    };
    Kind kind = Kind::empty;
    EntityId entity;
    uint64_t until = 0;
    uint64_t wake_at = kNoEvent;
};

// A snapshot of one entity, for tests, metering and diagnostics.
struct EntityInfo {
    EntityState state = EntityState::free;
    GroupParams params;
    uint64_t vruntime = 0;
    uint64_t window_used = 0; // ticks charged in the current accounting window
    uint64_t total_ran = 0;   // ticks charged since add()
    uint64_t wake_at = kNoEvent;
};

class CpuScheduler {
public:
    // tsc_hz: TSC frequency (at least 1 kHz); slice_ticks: the longest turn (at least 1 tick).
    // Smaller values are raised to those minimums: construction cannot fail.
    CpuScheduler(uint64_t tsc_hz, uint64_t slice_ticks);
    CpuScheduler(const CpuScheduler&) = delete;
    CpuScheduler& operator=(const CpuScheduler&) = delete;

    // A new runnable entity (a vCPU joining this CPU, also after a move from another CPU).
    // Errors: the params are invalid, the CPU's reserves would exceed 100%, or no slot is free.
    [[nodiscard]] ErrorOr<EntityId> add(const GroupParams& params);
    // Changes an entity's params (Set-VMProcessor on a running VM); same checks as add().
    [[nodiscard]] ErrorOr<void> set_params(EntityId id, const GroupParams& params);
    // Forgets the entity in any state; its id becomes stale (wakes aimed at it are dropped).
    [[nodiscard]] ErrorOr<void> remove(EntityId id);

    // What the CPU does next, at TSC time `now`. Consumes pending wakes and expired timers.
    [[nodiscard]] Decision pick(uint64_t now);
    // The entity ran `ran_ticks`, ending at `now`. Call it for every run, whatever happens next.
    [[nodiscard]] ErrorOr<void> charge(EntityId id, uint64_t ran_ticks, uint64_t now);
    // The entity halted: not picked again until wake() or until `now` reaches `wake_at` (its
    // timer deadline; kNoEvent for none). A wake() already pending still wakes it.
    [[nodiscard]] ErrorOr<void> block(EntityId id, uint64_t wake_at);
    // The entity will never run again (its vCPU stopped); remove() frees the slot later.
    [[nodiscard]] ErrorOr<void> stop(EntityId id);

    // Any CPU, lock-free: an interrupt arrived for the entity. Takes effect at the owner's next
    // pick(). Returns true when the caller should kick the owner CPU (IPI) because it may be
    // halted or running another entity and no earlier wake() has kicked it yet. Stale ids and
    // wakes of entities that are not blocked are ignored (harmlessly).
    bool wake(EntityId id) { return wakes_.post(id); }
    // Any CPU: whether a wake() is waiting for pick(). The owner checks it with interrupts
    // disabled right before halting, so a wake() racing with the halt is not slept through.
    [[nodiscard]] bool wake_pending() const { return wakes_.any_pending(); }

    [[nodiscard]] ErrorOr<EntityInfo> info(EntityId id) const;
    [[nodiscard]] uint32_t live_count() const { return live_count_; }
    [[nodiscard]] uint32_t reserved_percent() const { return reserved_percent_; }
    [[nodiscard]] uint64_t min_vruntime() const { return min_vruntime_; }
    [[nodiscard]] uint64_t period_ticks() const { return period_; }
    [[nodiscard]] uint64_t slice_ticks() const { return slice_; }
    // How far below min_vruntime() a waking entity may start (virtual ticks): half a slice.
    [[nodiscard]] uint64_t wake_credit() const { return slice_ / 2; }

private:
    struct Entity {
        uint64_t vruntime = 0;
        uint64_t window_used = 0;
        uint64_t total_ran = 0;
        uint64_t wake_at = kNoEvent;
        GroupParams params;
        uint32_t generation = 0; // of the current or the last occupant; 0 before first use
        uint32_t vruntime_remainder = 0;
        EntityState state = EntityState::free;
    };

    [[nodiscard]] ErrorOr<Entity*> lookup(EntityId id);
    [[nodiscard]] ErrorOr<const Entity*> lookup(EntityId id) const;
    [[nodiscard]] EntityId id_of(uint32_t slot) const;
    [[nodiscard]] bool throttled(const Entity& entity) const;
    [[nodiscard]] uint64_t limit_budget(const Entity& entity) const;
    void make_runnable(Entity& entity, uint64_t credit);

    // pick()'s steps (cpu_scheduler_pick.cpp).
    void roll_window(uint64_t now);
    void update_min_vruntime();
    void collect_wakes();
    void expire_timers(uint64_t now);
    [[nodiscard]] Entity* choose(uint64_t now);
    [[nodiscard]] uint64_t next_timed_event() const;

    uint64_t tsc_hz_;
    uint64_t slice_;
    uint64_t period_;
    uint64_t window_start_ = 0;
    uint64_t min_vruntime_ = 0;
    uint32_t slot_limit_ = 0; // slots at or above this were never used
    uint32_t live_count_ = 0;
    uint32_t reserved_percent_ = 0;
    Entity entities_[kMaxEntitiesPerCpu];
    WakeBoard wakes_;
};

} // namespace halcyon::sched
