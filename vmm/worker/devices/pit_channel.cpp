#include "vmm/worker/devices/pit_channel.hpp"

namespace halcyon::worker {
namespace {

constexpr uint8_t kAccessLsb = 1;
constexpr uint8_t kAccessMsb = 2;

// Modes 2 and 3 reload themselves; a period of 1 is illegal there (the datasheet forbids it)
// and would have no OUT transition, so treat it as 2.
constexpr uint64_t periodic(uint64_t period) {
    return period < 2 ? 2 : period;
}

} // namespace

void PitChannel::program(uint8_t control_word) {
    control_ = control_word & 0x3F;
    access_ = (control_word >> 4) & 3;
    mode_ = (control_word >> 1) & 7;
    if (mode_ >= 6)
        mode_ -= 4; // modes 6 and 7 are aliases of 2 and 3
    // A control word resets the counter's control logic: no count, no latches, OUT to its
    // initial state (low in mode 0, high otherwise).
    has_count_ = false;
    expect_msb_ = false;
    read_msb_ = false;
    count_latched_ = false;
    status_latched_ = false;
    armed_ = false;
    counting_ = false;
    next_start_ = kNever;
    null_until_ = kNever;
}

PitChannel::Segment PitChannel::segment(uint64_t tick) const {
    if (next_start_ != kNever && tick >= next_start_)
        return {next_start_, next_period_};
    return {start_, period_};
}

void PitChannel::settle(uint64_t tick) {
    const Segment current = segment(tick);
    if (current.start != start_ || current.period != period_) {
        start_ = current.start;
        period_ = current.period;
        next_start_ = kNever;
    }
}

uint64_t PitChannel::elapsed(uint64_t tick) const {
    if (!armed_)
        return 0;
    if (!counting_)
        return frozen_;
    const Segment current = segment(tick);
    return tick > current.start ? tick - current.start : 0;
}

void PitChannel::start(uint64_t tick) {
    armed_ = true;
    start_ = tick;
    period_ = count_register_;
    next_start_ = kNever;
    null_until_ = tick + 1;
    counting_ = gate_ || mode_ == 1 || mode_ == 5;
    frozen_ = 0;
}

void PitChannel::load(uint32_t count_register, uint64_t tick) {
    count_register_ = count_register == 0 ? 0x10000 : count_register;
    has_count_ = true;
    switch (mode_) {
    case 0:
    case 4:
        start(tick); // a new count restarts the count (OUT low again in mode 0)
        break;
    case 1:
    case 5:
        null_until_ = kNever; // loaded by the next gate trigger; a running one-shot goes on
        break;
    default:
        if (!armed_) {
            start(tick);
        } else if (counting_) {
            // Takes effect when the current period ends.
            const uint64_t period = periodic(period_);
            const uint64_t elapsed_now = tick > start_ ? tick - start_ : 0;
            next_start_ = start_ + (elapsed_now / period + 1) * period;
            next_period_ = count_register_;
            null_until_ = next_start_;
        } else {
            null_until_ = kNever; // loaded when the gate rises
        }
        break;
    }
}

void PitChannel::write(uint8_t value, uint64_t tick) {
    settle(tick);
    switch (access_) {
    case kAccessLsb:
        load(value, tick);
        return;
    case kAccessMsb:
        load(static_cast<uint32_t>(value) << 8, tick);
        return;
    default:
        if (!expect_msb_) {
            pending_lsb_ = value;
            expect_msb_ = true;
            if (mode_ == 0) {
                armed_ = false; // the first byte stops counting in mode 0
                counting_ = false;
            }
            return;
        }
        expect_msb_ = false;
        load(pending_lsb_ | static_cast<uint32_t>(value) << 8, tick);
        return;
    }
}

void PitChannel::set_gate(bool high, uint64_t tick) {
    settle(tick);
    if (high == gate_)
        return;
    gate_ = high;
    switch (mode_) {
    case 0:
    case 4: // the gate suspends counting
        if (!armed_)
            return;
        if (!high) {
            frozen_ = elapsed(tick);
            counting_ = false;
        } else {
            start_ = tick - frozen_;
            counting_ = true;
        }
        return;
    case 1:
    case 5: // a rising gate (re)triggers the one-shot
        if (high && has_count_)
            start(tick);
        return;
    default: // 2, 3: gate low stops counting with OUT high, a rising gate reloads
        if (!high) {
            if (armed_) {
                frozen_ = elapsed(tick);
                counting_ = false;
                next_start_ = kNever;
            }
        } else if (has_count_) {
            start(tick);
        }
        return;
    }
}

uint16_t PitChannel::count(uint64_t tick) const {
    if (!armed_)
        return static_cast<uint16_t>(count_register_);
    const uint64_t e = elapsed(tick);
    const Segment current = segment(tick);
    switch (mode_) {
    case 2: {
        const uint64_t period = periodic(current.period);
        return static_cast<uint16_t>(period - e % period);
    }
    case 3: {
        const uint64_t period = periodic(current.period);
        const uint64_t high_half = (period + 1) / 2;
        const uint64_t phase = e % period;
        const uint64_t in_half = phase < high_half ? phase : phase - high_half;
        return static_cast<uint16_t>((period - 2 * in_half) & 0xFFFE);
    }
    default: // 0, 1, 4, 5 count down once and then keep wrapping through 0xFFFF
        return static_cast<uint16_t>(current.period - e);
    }
}

bool PitChannel::out(uint64_t tick) const {
    if (!armed_)
        return mode_ != 0;
    const uint64_t e = elapsed(tick);
    const Segment current = segment(tick);
    switch (mode_) {
    case 0:
    case 1:
        return e >= current.period;
    case 2: {
        const uint64_t period = periodic(current.period);
        return !counting_ || e % period != period - 1;
    }
    case 3: {
        const uint64_t period = periodic(current.period);
        return !counting_ || e % period < (period + 1) / 2;
    }
    default: // 4, 5: low for the one tick at terminal count
        return e != current.period;
    }
}

uint64_t PitChannel::next_rising_edge(uint64_t after) const {
    if (!armed_ || !counting_)
        return kNever;
    if (mode_ == 2 || mode_ == 3) {
        const Segment current = segment(after);
        const uint64_t period = periodic(current.period);
        const uint64_t periods = after < current.start ? 1 : (after - current.start) / period + 1;
        return current.start + periods * period;
    }
    // One-shots: OUT rises at terminal count (0, 1) or one tick after it (4, 5).
    const uint64_t edge = start_ + period_ + (mode_ >= 4 ? 1 : 0);
    return edge > after ? edge : kNever;
}

uint8_t PitChannel::status(uint64_t tick) const {
    const bool null_count = tick < null_until_;
    return static_cast<uint8_t>((out(tick) ? 0x80 : 0) | (null_count ? 0x40 : 0) | control_);
}

void PitChannel::latch_count(uint64_t tick) {
    if (count_latched_)
        return; // a second latch before the first is read is ignored
    latched_count_ = count(tick);
    count_latched_ = true;
}

void PitChannel::latch_status(uint64_t tick) {
    if (status_latched_)
        return;
    latched_status_ = status(tick);
    status_latched_ = true;
}

uint8_t PitChannel::read(uint64_t tick) {
    settle(tick);
    if (status_latched_) {
        status_latched_ = false;
        return latched_status_;
    }
    const uint16_t value = count_latched_ ? latched_count_ : count(tick);
    uint8_t byte = 0;
    switch (access_) {
    case kAccessLsb:
        byte = static_cast<uint8_t>(value);
        count_latched_ = false;
        break;
    case kAccessMsb:
        byte = static_cast<uint8_t>(value >> 8);
        count_latched_ = false;
        break;
    default:
        byte = static_cast<uint8_t>(read_msb_ ? value >> 8 : value);
        if (read_msb_)
            count_latched_ = false; // both bytes of the latch have been read
        read_msb_ = !read_msb_;
        break;
    }
    return byte;
}

} // namespace halcyon::worker
