#include "vswitch/qos/egress_scheduler.hpp"

#include <bit>

namespace halcyon::vswitch::qos {

namespace {

// Pass advance per byte for weight 1. Weights up to ~1e5 keep a stride >= 10 (enough precision);
// passes wrap after ~2^64 / 2^20 bytes at weight 1 and are compared wrap-safely.
constexpr uint64_t kStrideUnit = 1u << 20;
constexpr uint64_t kFrameAllowance = 2 * 1518; // every bucket holds at least two full frames

[[nodiscard]] uint64_t burst_for(uint64_t bytes_per_second, uint64_t window_ns, uint64_t floor) {
    const uint64_t burst = bytes_per_second / 1000 * (window_ns / 1'000'000);
    return burst > floor ? burst : floor;
}

// a < b on a wrapping virtual clock.
[[nodiscard]] bool pass_before(uint64_t a, uint64_t b) {
    return static_cast<int64_t>(a - b) < 0;
}

} // namespace

ErrorOr<EgressScheduler> EgressScheduler::create(const SchedulerConfig& config,
                                                 std::span<Frame*> ring_storage, uint64_t now_ns) {
    if (config.link_bits_per_second < 8)
        return Error(ErrorCode::invalid_argument, "egress scheduler needs a link rate (bits/s)");
    if (ring_storage.size() < kMaxClasses)
        return Error(ErrorCode::invalid_argument,
                     "egress scheduler needs >= 1 queue slot per class");
    if (config.mode != MinimumMode::absolute && config.mode != MinimumMode::weight)
        return Error(ErrorCode::invalid_argument,
                     "minimum bandwidth mode must be absolute or weight");
    EgressScheduler scheduler;
    scheduler.config_ = config;
    const uint64_t link_bytes = config.link_bits_per_second / 8;
    // The link may be polled coarsely (a simulation step, a timer tick): let it bank up to 1 ms.
    scheduler.link_ =
        TokenBucket(link_bytes, burst_for(link_bytes, 1'000'000, config.link_burst_bytes), now_ns);
    scheduler.storage_ = ring_storage;
    scheduler.depth_ = static_cast<uint32_t>(ring_storage.size() / kMaxClasses);
    return scheduler;
}

ErrorOr<void> EgressScheduler::configure_class(uint32_t index, const ClassConfig& config,
                                               uint64_t now_ns) {
    if (index >= kMaxClasses)
        return Error(ErrorCode::out_of_range, "QoS class index beyond 64");
    if (config_.mode == MinimumMode::weight && config.weight > 100)
        return Error(ErrorCode::invalid_argument, "minimum bandwidth weight must be 0..100");
    const ClassConfig previous = classes_[index].config;
    const bool was_configured = (configured_ >> index) & 1;
    classes_[index].config = config;
    configured_ |= uint64_t{1} << index;
    auto rebuilt = rebuild_minimums(now_ns);
    if (rebuilt.is_error()) {
        classes_[index].config = previous;
        if (!was_configured)
            configured_ &= ~(uint64_t{1} << index);
        TRY(rebuild_minimums(now_ns));
        return rebuilt.release_error();
    }
    ClassState& state = classes_[index];
    if (config.maximum_bits_per_second != 0) {
        const uint64_t rate = config.maximum_bits_per_second / 8;
        const uint64_t burst = config.maximum_burst_bytes != 0
                                   ? config.maximum_burst_bytes
                                   : burst_for(rate, 10'000'000, 16 * 1024);
        state.maximum = TokenBucket(rate == 0 ? 1 : rate, burst, now_ns);
    } else {
        state.maximum = TokenBucket();
    }
    return {};
}

// Recomputes every class's guaranteed rate and excess weight: weight shares depend on the sum of
// all weights, so one class's change moves everyone's guarantee.
ErrorOr<void> EgressScheduler::rebuild_minimums(uint64_t now_ns) {
    const uint64_t link_bytes = config_.link_bits_per_second / 8;
    uint64_t total = 0;
    for (uint32_t i = 0; i < kMaxClasses; ++i) {
        if ((configured_ >> i) & 1)
            total += config_.mode == MinimumMode::weight
                         ? classes_[i].config.weight
                         : classes_[i].config.minimum_bits_per_second;
    }
    if (config_.mode == MinimumMode::absolute && total > config_.link_bits_per_second)
        return Error(ErrorCode::out_of_range,
                     "sum of absolute minimum bandwidths exceeds the link rate");
    for (uint32_t i = 0; i < kMaxClasses; ++i) {
        ClassState& state = classes_[i];
        if (!((configured_ >> i) & 1))
            continue;
        uint64_t guaranteed_bytes = 0;
        uint64_t excess_weight = 0;
        if (config_.mode == MinimumMode::weight) {
            excess_weight = state.config.weight;
            if (total != 0)
                guaranteed_bytes = link_bytes / total * state.config.weight +
                                   link_bytes % total * state.config.weight / total;
        } else {
            guaranteed_bytes = state.config.minimum_bits_per_second / 8;
            // Leftover bandwidth is shared by weight, equally by default: a class's minimum is
            // its floor, not a claim on what others leave unused.
            excess_weight = state.config.weight == 0 ? 1 : state.config.weight;
        }
        state.minimum =
            guaranteed_bytes == 0
                ? TokenBucket()
                : TokenBucket(guaranteed_bytes,
                              burst_for(guaranteed_bytes, 2'000'000, kFrameAllowance), now_ns);
        state.stride = excess_weight == 0 ? 0 : kStrideUnit / excess_weight;
        if (state.stride == 0 && excess_weight != 0)
            state.stride = 1;
    }
    return {};
}

bool EgressScheduler::enqueue(uint32_t index, Frame* frame) {
    if (index >= kMaxClasses)
        return false;
    ClassState& state = classes_[index];
    if (state.count == depth_) {
        ++stats_[index].queue_full_drops;
        return false;
    }
    if (state.count == 0) {
        // A class waking up joins at the current virtual time: idleness earns no credit.
        if (pass_before(state.pass, virtual_time_))
            state.pass = virtual_time_;
        backlogged_ |= uint64_t{1} << index;
    }
    storage_[index * depth_ + (state.head + state.count) % depth_] = frame;
    ++state.count;
    stats_[index].queued = state.count;
    return true;
}

uint32_t EgressScheduler::head_bytes(uint32_t index) const {
    return storage_[index * depth_ + classes_[index].head]->length;
}

Frame* EgressScheduler::pop(uint32_t index) {
    ClassState& state = classes_[index];
    Frame* frame = storage_[index * depth_ + state.head];
    state.head = (state.head + 1) % depth_;
    --state.count;
    stats_[index].queued = state.count;
    if (state.count == 0)
        backlogged_ &= ~(uint64_t{1} << index);
    return frame;
}

Frame* EgressScheduler::dequeue(uint64_t now_ns, uint32_t* class_out) {
    if (backlogged_ == 0)
        return nullptr;
    // Guarantee phase: round-robin over backlogged classes that hold minimum-rate tokens.
    int32_t chosen = -1;
    bool guaranteed = false;
    const uint64_t rotated = std::rotr(backlogged_, static_cast<int>(guarantee_cursor_));
    for (uint64_t bits = rotated; bits != 0; bits &= bits - 1) {
        const uint32_t index =
            (static_cast<uint32_t>(std::countr_zero(bits)) + guarantee_cursor_) % kMaxClasses;
        ClassState& state = classes_[index];
        const uint32_t bytes = head_bytes(index);
        if (state.minimum.unlimited() || !state.minimum.has(bytes, now_ns) ||
            !state.maximum.has(bytes, now_ns))
            continue;
        chosen = static_cast<int32_t>(index);
        guaranteed = true;
        break;
    }
    // Excess phase: smallest pass among weighted eligible classes, else any unweighted one.
    if (chosen < 0) {
        int32_t unweighted_first = -1; // lowest eligible unweighted class
        int32_t unweighted_next = -1;  // lowest one at or after the best-effort cursor
        for (uint64_t bits = backlogged_; bits != 0; bits &= bits - 1) {
            const uint32_t index = static_cast<uint32_t>(std::countr_zero(bits));
            ClassState& state = classes_[index];
            if (!state.maximum.has(head_bytes(index), now_ns))
                continue;
            if (state.stride == 0) {
                if (unweighted_first < 0)
                    unweighted_first = static_cast<int32_t>(index);
                if (unweighted_next < 0 && index >= best_effort_cursor_)
                    unweighted_next = static_cast<int32_t>(index);
                continue;
            }
            if (chosen < 0 || pass_before(state.pass, classes_[chosen].pass))
                chosen = static_cast<int32_t>(index);
        }
        if (chosen < 0)
            chosen = unweighted_next >= 0 ? unweighted_next : unweighted_first;
    }
    if (chosen < 0)
        return nullptr;
    const uint32_t index = static_cast<uint32_t>(chosen);
    const uint32_t bytes = head_bytes(index);
    if (!link_.try_take(bytes, now_ns))
        return nullptr; // the wire is busy; nothing changes until it frees up
    ClassState& state = classes_[index];
    state.maximum.charge(bytes, now_ns);
    if (guaranteed) {
        state.minimum.charge(bytes, now_ns);
        stats_[index].guaranteed_bytes += bytes;
        guarantee_cursor_ = (index + 1) % kMaxClasses;
    } else if (state.stride != 0) {
        virtual_time_ = state.pass;
        state.pass += uint64_t{bytes} * state.stride;
    } else {
        best_effort_cursor_ = (index + 1) % kMaxClasses;
    }
    ++stats_[index].sent_packets;
    stats_[index].sent_bytes += bytes;
    if (class_out)
        *class_out = index;
    return pop(index);
}

uint64_t EgressScheduler::next_ready_ns(uint64_t now_ns) {
    uint64_t earliest = UINT64_MAX;
    for (uint64_t bits = backlogged_; bits != 0; bits &= bits - 1) {
        const uint32_t index = static_cast<uint32_t>(std::countr_zero(bits));
        const uint32_t bytes = head_bytes(index);
        uint64_t ready = classes_[index].maximum.ready_at(bytes, now_ns);
        const uint64_t link_ready = link_.ready_at(bytes, now_ns);
        if (link_ready > ready)
            ready = link_ready;
        if (ready < earliest)
            earliest = ready;
    }
    return earliest;
}

} // namespace halcyon::vswitch::qos
