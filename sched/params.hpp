// What a VM asks of the processor, in Hyper-V's three per-VM knobs (Hyper-V Manager, "Processor"
// page: "Virtual machine reserve (percentage)", "Virtual machine limit (percentage)", "Relative
// weight"; the same properties as Set-VMProcessor -Reserve/-Maximum/-RelativeWeight). They are
// not in the seed whitepapers; the ranges below are Hyper-V's.
//
// Halcyon applies all three to each vCPU of the VM: reserve and limit are a percentage of one
// physical CPU per vCPU, and the weight competes vCPU against vCPU on each CPU's run queue.
#pragma once

#include "lib/base/error_or.hpp"

#include <stdint.h>

namespace halcyon::sched {

inline constexpr uint32_t kMinWeight = 1;
inline constexpr uint32_t kMaxWeight = 10'000;
inline constexpr uint32_t kDefaultWeight = 100;
inline constexpr uint32_t kNoLimitPercent = 100;

struct GroupParams {
    // Relative weight: under contention, CPU time is shared in proportion to it.
    uint32_t weight = kDefaultWeight;
    // Percent of one CPU guaranteed to a runnable vCPU in every accounting window.
    uint32_t reserve_percent = 0;
    // Percent of one CPU a vCPU may use per accounting window; 100 means no limit.
    uint32_t limit_percent = kNoLimitPercent;

    friend constexpr bool operator==(const GroupParams&, const GroupParams&) = default;
};

// Checks the ranges and that the reserve fits under the limit (a guarantee the limit forbids
// could never be honoured). A limit of 0% is refused: such a vCPU could never run at all.
[[nodiscard]] inline ErrorOr<void> validate(const GroupParams& params) {
    if (params.weight < kMinWeight || params.weight > kMaxWeight)
        return Error(ErrorCode::out_of_range, "processor weight must be between 1 and 10000");
    if (params.reserve_percent > 100)
        return Error(ErrorCode::out_of_range, "processor reserve must be between 0% and 100%");
    if (params.limit_percent == 0 || params.limit_percent > 100)
        return Error(ErrorCode::out_of_range, "processor limit must be between 1% and 100%");
    if (params.reserve_percent > params.limit_percent)
        return Error(ErrorCode::invalid_argument, "processor reserve exceeds the processor limit");
    return {};
}

// Entities per CPU run queue (a vCPU is one entity). 2,048 vCPUs on 320 CPUs is ~7 per CPU; 256
// leaves room for heavy overcommit while a pick() stays one short scan.
inline constexpr uint32_t kMaxEntitiesPerCpu = 256;
inline constexpr uint32_t kSlotBits = 8;
static_assert((1u << kSlotBits) == kMaxEntitiesPerCpu);

// Names one entity of one CpuScheduler: its slot plus a generation that changes every time the
// slot is reused, so a stale id (an entity that was removed, perhaps moved to another CPU) is
// refused instead of acting on the slot's next occupant. Value 0 is never a valid id. Bit 31 is
// always clear (the wake board uses it).
class EntityId {
public:
    static constexpr uint32_t kSlotMask = (1u << kSlotBits) - 1;
    static constexpr uint32_t kGenerationLimit = 1u << (31 - kSlotBits);

    constexpr EntityId() = default;
    [[nodiscard]] static constexpr EntityId from_value(uint32_t value) {
        EntityId id;
        id.value_ = value & 0x7FFF'FFFFu;
        return id;
    }
    [[nodiscard]] static constexpr EntityId make(uint32_t slot, uint32_t generation) {
        return from_value((generation << kSlotBits) | (slot & kSlotMask));
    }

    [[nodiscard]] constexpr bool valid() const { return (value_ >> kSlotBits) != 0; }
    [[nodiscard]] constexpr uint32_t value() const { return value_; }
    [[nodiscard]] constexpr uint32_t slot() const { return value_ & kSlotMask; }

    friend constexpr bool operator==(EntityId, EntityId) = default;

private:
    uint32_t value_ = 0;
};

} // namespace halcyon::sched
