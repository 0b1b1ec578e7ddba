#include "vmm/hyperv/synthetic_timer.hpp"

#include "vmm/hyperv/synic_layout.hpp"

namespace halcyon::vmm::hyperv {
namespace {

// Reference times never wrap in practice (2^64 * 100 ns is 58 000 years); saturate so that a
// huge period stays "far in the future" instead of wrapping into the past.
constexpr uint64_t add_saturating(uint64_t a, uint64_t b) {
    return a + b < a ? SyntheticTimer::kNever - 1 : a + b;
}

} // namespace

bool SyntheticTimer::enabled() const {
    return (config_ & kStimerEnable) != 0;
}
bool SyntheticTimer::periodic() const {
    return (config_ & kStimerPeriodic) != 0;
}
bool SyntheticTimer::lazy() const {
    return (config_ & kStimerLazy) != 0;
}
bool SyntheticTimer::direct_mode() const {
    return (config_ & kStimerDirectMode) != 0;
}
uint8_t SyntheticTimer::vector() const {
    return static_cast<uint8_t>(config_ >> kStimerVectorShift);
}
uint8_t SyntheticTimer::sint() const {
    return static_cast<uint8_t>((config_ >> kStimerSintShift) & 0xF);
}

bool SyntheticTimer::write_config(uint64_t value, uint64_t now) {
    if ((value & kStimerReserved) != 0)
        return false;
    if ((value & kStimerDirectMode) != 0 &&
        static_cast<uint8_t>(value >> kStimerVectorShift) < kFirstValidVector)
        return false; // an exception vector cannot be an interrupt
    // TLFS: changing an enabled timer is undefined; here it simply starts over.
    config_ = value;
    pending_ = false;
    if (enabled())
        start(now);
    return true;
}

void SyntheticTimer::write_count(uint64_t value, uint64_t now) {
    count_ = value;
    pending_ = false;
    if (value == 0)
        config_ &= ~kStimerEnable; // TLFS: a zero count stops the timer, auto-enable or not
    else if ((config_ & kStimerAutoEnable) != 0)
        config_ |= kStimerEnable;
    if (enabled())
        start(now);
}

void SyntheticTimer::start(uint64_t now) {
    // TLFS: SINT 0 for an enabled message-mode timer disables it; a timer needs a count.
    if ((!direct_mode() && sint() == 0) || count_ == 0) {
        config_ &= ~kStimerEnable;
        expiry_ = kNever;
        return;
    }
    expiry_ = periodic() ? add_saturating(now, count_) : count_;
}

uint64_t SyntheticTimer::deadline() const {
    return enabled() && !pending_ ? expiry_ : kNever;
}

bool SyntheticTimer::expire(uint64_t now) {
    if (!enabled())
        return false;
    if (pending_)
        return true;
    if (now < expiry_)
        return false;
    uint64_t expiration = expiry_;
    if (periodic()) {
        const uint64_t period = count_;
        const uint64_t missed = (now - expiration) / period; // whole periods since it was due
        if (missed > 0 && (lazy() || missed > kMaxCatchUpPeriods)) {
            expiration += missed * period; // the latest expiration not after `now`
            if (lazy() && expiration + period - now < period / 8) {
                // Lazy and almost at the next one: this signal is skipped entirely (TLFS).
                expiry_ = add_saturating(expiration, period);
                return false;
            }
        }
    }
    pending_ = true;
    signal_expiration_ = expiration;
    return true;
}

void SyntheticTimer::signal_delivered() {
    if (!pending_)
        return;
    pending_ = false;
    if (!periodic()) {
        config_ &= ~kStimerEnable; // TLFS: an expired one-shot timer is marked disabled
        expiry_ = kNever;
        return;
    }
    // The next expiration on the grid (not relative to the delivery time); if that has passed too,
    // expire() sees it at once (catch up) or skips it, as the header describes.
    expiry_ = add_saturating(signal_expiration_, count_);
}

void SyntheticTimer::reset() {
    config_ = 0;
    count_ = 0;
    expiry_ = kNever;
    pending_ = false;
    signal_expiration_ = 0;
}

} // namespace halcyon::vmm::hyperv
