// The only part of a CPU's scheduler that other CPUs touch: one word per slot holding the
// occupant's EntityId plus a "wake pending" bit, and one summary word saying "some bit may be
// set". wake() from any CPU sets a bit; the owning CPU collects the bits in pick(). No lock is
// taken on either side, so an interrupt source on another CPU never waits for the owner.
//
// Memory ordering (the contract the docs repeat):
//  - post() sets the pending bit with a compare-exchange that includes the occupant's id, so a
//    stale id (the entity was removed or moved away) can never mark the slot's next occupant.
//    It then sets the summary word. Both are release operations: whatever the waker wrote
//    before post() (the interrupt it latched in the virtual LAPIC) is visible to the owner once
//    it has collected the wake.
//  - collect() clears the summary with an acquire exchange *before* scanning the slots, and
//    clears each bit with an acquire read-modify-write. A post() that lands after the scan read
//    its slot sets the summary again afterwards, so the next collect() sees it: no wake is lost.
//  - post() returns true only when it turned the summary from clear to set: that caller should
//    kick the owning CPU (IPI) if it is idle or in a guest; later wakers can rely on that kick.
#pragma once

#include "sched/params.hpp"

#include <stdint.h>

namespace halcyon::sched {

class WakeBoard {
public:
    static constexpr uint32_t kPendingBit = 1u << 31;

    // Owner CPU only: a new occupant with no wake pending, or an empty slot.
    void attach(EntityId id) { __atomic_store_n(&words_[id.slot()], id.value(), __ATOMIC_RELEASE); }
    void detach(uint32_t slot) { __atomic_store_n(&words_[slot], 0u, __ATOMIC_RELEASE); }

    // Any CPU. Returns whether the owner needs a kick (see above). False for stale ids and for
    // entities that already had a wake pending.
    bool post(EntityId id) {
        if (!id.valid())
            return false;
        uint32_t& word = words_[id.slot()];
        uint32_t seen = __atomic_load_n(&word, __ATOMIC_RELAXED);
        for (;;) {
            if ((seen & ~kPendingBit) != id.value() || (seen & kPendingBit) != 0)
                return false;
            if (__atomic_compare_exchange_n(&word, &seen, seen | kPendingBit, false,
                                            __ATOMIC_RELEASE, __ATOMIC_RELAXED))
                break;
        }
        return __atomic_exchange_n(&summary_, 1u, __ATOMIC_ACQ_REL) == 0;
    }

    // Any CPU; the owner calls it (interrupts disabled) right before halting an idle CPU.
    [[nodiscard]] bool any_pending() const {
        return __atomic_load_n(&summary_, __ATOMIC_ACQUIRE) != 0;
    }

    // Owner CPU only: calls on_wake(slot) once for each slot below slot_limit whose bit was set,
    // clearing the bits.
    template <typename Callback>
    void collect(uint32_t slot_limit, Callback&& on_wake) {
        if (__atomic_exchange_n(&summary_, 0u, __ATOMIC_ACQ_REL) == 0)
            return;
        for (uint32_t slot = 0; slot < slot_limit; ++slot) {
            // A relaxed peek is enough: the acquire on the summary ordered every post() whose
            // summary store we consumed before this load.
            if ((__atomic_load_n(&words_[slot], __ATOMIC_RELAXED) & kPendingBit) == 0)
                continue;
            const uint32_t old = __atomic_fetch_and(&words_[slot], ~kPendingBit, __ATOMIC_ACQ_REL);
            if ((old & kPendingBit) != 0)
                on_wake(slot);
        }
    }

private:
    // Separate cache lines: wakers hammer these, the owner's run queue stays in its own lines.
    alignas(64) uint32_t summary_ = 0;
    alignas(64) uint32_t words_[kMaxEntitiesPerCpu] = {};
};

} // namespace halcyon::sched
