#include "vmm/hyperv/vp_synic.hpp"

#include "vmm/hyperv/tlfs.hpp"

#include <string.h>

namespace halcyon::vmm::hyperv {
namespace {

bool is_timer_msr(uint32_t msr) {
    return msr >= msr::kStimer0Config && msr <= msr::kStimer3Count;
}

} // namespace

VpSynic::VpSynic()
    : timers_{SyntheticTimer(0), SyntheticTimer(1), SyntheticTimer(2), SyntheticTimer(3)} {}

bool VpSynic::claims_msr(uint32_t msr) {
    return Synic::claims_msr(msr) || is_timer_msr(msr);
}

bool VpSynic::read_msr(uint32_t msr, uint64_t& value) const {
    if (!is_timer_msr(msr))
        return synic_.read_msr(msr, value);
    const SyntheticTimer& timer = timers_[(msr - msr::kStimer0Config) / 2];
    value = (msr - msr::kStimer0Config) % 2 == 0 ? timer.config() : timer.count();
    return true;
}

bool VpSynic::write_msr(uint32_t msr, uint64_t value, uint64_t now, GuestMemory& memory,
                        InterruptVectors& raise) {
    if (is_timer_msr(msr)) {
        SyntheticTimer& timer = timers_[(msr - msr::kStimer0Config) / 2];
        if ((msr - msr::kStimer0Config) % 2 == 0) {
            if (!timer.write_config(value, now))
                return false;
        } else {
            timer.write_count(value, now);
        }
        update(now, memory, raise); // a one-shot time in the past expires at once
        return true;
    }
    if (msr == msr::kEom) {
        if (value != 0)
            return false; // RsvdZ
        // Timer messages first: they have one buffer each and are the most time-critical.
        deliver_timer_signals(now, memory, raise);
        synic_.deliver_queued(timers_waiting(), memory, raise);
        return true;
    }
    if (!synic_.write_msr(msr, value, timers_waiting(), memory, raise))
        return false;
    // The SynIC may have become usable (enabled, a page set, a SINT unmasked): whatever waited
    // for that goes now rather than at the next EOM.
    deliver_timer_signals(now, memory, raise);
    synic_.deliver_queued(timers_waiting(), memory, raise);
    return true;
}

DeliveryResult VpSynic::post_message(uint8_t sint, uint32_t type, std::span<const uint8_t> payload,
                                     GuestMemory& memory, InterruptVectors& raise) {
    return synic_.post_message(sint, type, payload, timers_waiting(), memory, raise);
}

uint64_t VpSynic::next_deadline() const {
    uint64_t deadline = SyntheticTimer::kNever;
    for (const SyntheticTimer& timer : timers_) {
        if (timer.deadline() < deadline)
            deadline = timer.deadline();
    }
    return deadline;
}

void VpSynic::update(uint64_t now, GuestMemory& memory, InterruptVectors& raise) {
    bool any = false;
    for (SyntheticTimer& timer : timers_)
        any |= timer.expire(now);
    if (any)
        deliver_timer_signals(now, memory, raise);
}

uint16_t VpSynic::timers_waiting() const {
    uint16_t mask = 0;
    for (const SyntheticTimer& timer : timers_) {
        if (timer.signal_pending() && !timer.direct_mode())
            mask |= static_cast<uint16_t>(1u << timer.sint());
    }
    return mask;
}

void VpSynic::deliver_timer_signals(uint64_t now, GuestMemory& memory, InterruptVectors& raise) {
    for (SyntheticTimer& timer : timers_) {
        if (!timer.signal_pending())
            continue;
        if (timer.direct_mode()) {
            raise.add(timer.vector()); // TLFS "Direct Synthetic Timers": an interrupt, no message
            timer.signal_delivered();
        } else if (deliver_timer_message(timer, now, memory, raise)) {
            timer.signal_delivered();
        }
    }
}

bool VpSynic::deliver_timer_message(SyntheticTimer& timer, uint64_t now, GuestMemory& memory,
                                    InterruptVectors& raise) {
    // HV_TIMER_MESSAGE_PAYLOAD: timer index, reserved, expiration time, delivery time.
    uint8_t payload[kTimerMessagePayloadBytes] = {};
    const uint32_t index = timer.index();
    const uint64_t expiration = timer.signal_expiration();
    memcpy(payload, &index, 4);
    memcpy(payload + 8, &expiration, 8);
    memcpy(payload + 16, &now, 8);
    const uint8_t sint = timer.sint();
    // Another signal for the same slot (a queued message, another timer) needs an EOM after
    // this one: say so in the message itself.
    bool others = synic_.queue().count(sint) != 0;
    for (const SyntheticTimer& other : timers_) {
        others |= &other != &timer && other.signal_pending() && !other.direct_mode() &&
                  other.sint() == sint;
    }
    return synic_.write_slot(sint, kMessageTimerExpired, payload, others, memory, raise) ==
           SlotResult::written;
}

void VpSynic::reset() {
    synic_.reset();
    for (SyntheticTimer& timer : timers_)
        timer.reset();
}

} // namespace halcyon::vmm::hyperv
