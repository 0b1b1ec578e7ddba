// A token bucket on the caller's clock, in integers (the core world has no floating point). One
// implementation for the whole switch: QoS counts bytes with it, storm control counts packets.
// Unlike a plain policer it can also say *when* an amount will fit, which the egress scheduler
// needs to stay work-conserving while shaping, and it can be charged below zero ("debt") so a
// class that sent on borrowed bandwidth pays it back before using its guarantee. The method names
// say "bytes" for any unit.
#pragma once

#include <stdint.h>

namespace halcyon::vswitch {

class TokenBucket {
public:
    TokenBucket() = default;
    // rate 0 means unlimited. The bucket starts full.
    TokenBucket(uint64_t bytes_per_second, uint64_t burst_bytes, uint64_t now_ns);

    [[nodiscard]] bool unlimited() const { return rate_ == 0; }
    [[nodiscard]] uint64_t rate() const { return rate_; }

    // True if `bytes` are available at now_ns (a bucket in debt has none).
    [[nodiscard]] bool has(uint64_t bytes, uint64_t now_ns);
    // Takes `bytes` if available; false and nothing taken otherwise.
    [[nodiscard]] bool try_take(uint64_t bytes, uint64_t now_ns);
    // Takes `bytes` unconditionally, going into debt if needed (bounded by one burst).
    void charge(uint64_t bytes, uint64_t now_ns);
    // Whole bytes available now (0 when in debt).
    [[nodiscard]] uint64_t level(uint64_t now_ns);
    // Earliest time >= now_ns at which `bytes` will be available (now_ns if they already are).
    [[nodiscard]] uint64_t ready_at(uint64_t bytes, uint64_t now_ns);

private:
    void refill(uint64_t now_ns);
    [[nodiscard]] int64_t needed(uint64_t bytes) const;

    uint64_t rate_ = 0; // bytes per second
    // Level and depth in byte-nanoseconds-per-second units (bytes * 1e9), so that refilling is
    // the exact integer elapsed_ns * rate. Signed: negative is debt.
    int64_t level_ = 0;
    int64_t depth_ = 0;
    uint64_t last_ns_ = 0;
};

} // namespace halcyon::vswitch
