// CpuScheduler: entity lifecycle and accounting. The decision itself is in
// cpu_scheduler_pick.cpp.
#include "sched/cpu_scheduler.hpp"

#include "sched/share_math.hpp"

namespace halcyon::sched {
namespace {

constexpr uint64_t kMinTscHz = 1000;

// Reserves count while an entity can still run; a stopped one has given its guarantee back.
bool holds_reserve(EntityState state) {
    return state == EntityState::runnable || state == EntityState::blocked;
}

} // namespace

CpuScheduler::CpuScheduler(uint64_t tsc_hz, uint64_t slice_ticks)
    : tsc_hz_(tsc_hz < kMinTscHz ? kMinTscHz : tsc_hz), slice_(slice_ticks == 0 ? 1 : slice_ticks),
      period_(tsc_hz_ / kWindowsPerSecond) {}

ErrorOr<EntityId> CpuScheduler::add(const GroupParams& params) {
    TRY(validate(params));
    if (reserved_percent_ + params.reserve_percent > 100)
        return Error(ErrorCode::out_of_range,
                     "the processor reserves of the vCPUs on this CPU would exceed 100%");
    uint32_t slot = 0;
    while (slot < kMaxEntitiesPerCpu && entities_[slot].state != EntityState::free)
        ++slot;
    if (slot == kMaxEntitiesPerCpu)
        return Error(ErrorCode::out_of_memory, "this CPU's run queue is full (256 vCPUs)");

    Entity& entity = entities_[slot];
    const uint32_t generation = entity.generation + 1 < EntityId::kGenerationLimit
                                    ? entity.generation + 1
                                    : 1; // 0 would make the id invalid
    entity = Entity{};
    entity.generation = generation;
    entity.params = params;
    entity.vruntime = min_vruntime_; // a newcomer starts level with the queue, not ahead of it
    entity.state = EntityState::runnable;
    if (slot >= slot_limit_)
        slot_limit_ = slot + 1;
    ++live_count_;
    reserved_percent_ += params.reserve_percent;
    const EntityId id = id_of(slot);
    wakes_.attach(id);
    return id;
}

ErrorOr<void> CpuScheduler::set_params(EntityId id, const GroupParams& params) {
    Entity* entity = TRY(lookup(id));
    TRY(validate(params));
    if (holds_reserve(entity->state)) {
        const uint32_t others = reserved_percent_ - entity->params.reserve_percent;
        if (others + params.reserve_percent > 100)
            return Error(ErrorCode::out_of_range,
                         "the processor reserves of the vCPUs on this CPU would exceed 100%");
        reserved_percent_ = others + params.reserve_percent;
    }
    entity->params = params;
    return {};
}

ErrorOr<void> CpuScheduler::remove(EntityId id) {
    Entity* entity = TRY(lookup(id));
    if (holds_reserve(entity->state))
        reserved_percent_ -= entity->params.reserve_percent;
    if (entity->state != EntityState::stopped)
        --live_count_;
    entity->state = EntityState::free;
    // Drops any pending wake with the old id; the generation bump at the next add() makes every
    // copy of the old id stale.
    wakes_.detach(id.slot());
    return {};
}

ErrorOr<void> CpuScheduler::charge(EntityId id, uint64_t ran_ticks, uint64_t now) {
    Entity* entity = TRY(lookup(id));
    entity->total_ran += ran_ticks;
    entity->vruntime +=
        math::weighted_advance(ran_ticks, entity->params.weight, entity->vruntime_remainder);
    // Only the part of the run inside the current window counts against it; a run that began in
    // the previous window was charged to a window whose accounting has already been reset.
    roll_window(now);
    uint64_t in_window = ran_ticks;
    if (now >= window_start_ && now - window_start_ < in_window)
        in_window = now - window_start_;
    const uint64_t cap = 2 * period_; // keeps share_math's products small (see there)
    entity->window_used =
        entity->window_used + in_window > cap ? cap : entity->window_used + in_window;
    return {};
}

ErrorOr<void> CpuScheduler::block(EntityId id, uint64_t wake_at) {
    Entity* entity = TRY(lookup(id));
    if (entity->state == EntityState::stopped)
        return Error(ErrorCode::invalid_argument, "cannot block a stopped vCPU");
    entity->state = EntityState::blocked;
    entity->wake_at = wake_at;
    return {};
}

ErrorOr<void> CpuScheduler::stop(EntityId id) {
    Entity* entity = TRY(lookup(id));
    if (entity->state == EntityState::stopped)
        return {};
    reserved_percent_ -= entity->params.reserve_percent;
    --live_count_;
    entity->state = EntityState::stopped;
    entity->wake_at = kNoEvent;
    return {};
}

ErrorOr<EntityInfo> CpuScheduler::info(EntityId id) const {
    const Entity* entity = TRY(lookup(id));
    EntityInfo result;
    result.state = entity->state;
    result.params = entity->params;
    result.vruntime = entity->vruntime;
    result.window_used = entity->window_used;
    result.total_ran = entity->total_ran;
    result.wake_at = entity->wake_at;
    return result;
}

ErrorOr<CpuScheduler::Entity*> CpuScheduler::lookup(EntityId id) {
    const Entity* entity = TRY(static_cast<const CpuScheduler*>(this)->lookup(id));
    return const_cast<Entity*>(entity);
}

ErrorOr<const CpuScheduler::Entity*> CpuScheduler::lookup(EntityId id) const {
    if (!id.valid())
        return Error(ErrorCode::invalid_argument, "not a scheduler entity id");
    const Entity& entity = entities_[id.slot()];
    if (entity.state == EntityState::free || id_of(id.slot()) != id)
        return Error(ErrorCode::not_found,
                     "no such entity on this CPU (removed, or moved to another CPU)");
    return &entity;
}

EntityId CpuScheduler::id_of(uint32_t slot) const {
    return EntityId::make(slot, entities_[slot].generation);
}

uint64_t CpuScheduler::limit_budget(const Entity& entity) const {
    return math::percent_of(period_, entity.params.limit_percent);
}

bool CpuScheduler::throttled(const Entity& entity) const {
    return entity.params.limit_percent < kNoLimitPercent &&
           entity.window_used >= limit_budget(entity);
}

// Leaving a blocked (or throttled) spell: catch up with the queue, less at most `credit`, so
// the time spent off the queue is not banked against the entities that kept running.
void CpuScheduler::make_runnable(Entity& entity, uint64_t credit) {
    entity.state = EntityState::runnable;
    entity.wake_at = kNoEvent;
    entity.vruntime = math::vtime_max(entity.vruntime, min_vruntime_ - credit);
}

} // namespace halcyon::sched
