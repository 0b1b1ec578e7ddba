// An integer token bucket driven by the caller's clock (no floating point: the core world has no
// SSE). Tokens are kept in units of 1/kScale so rates below one token per nanosecond stay exact.
#pragma once

#include <stdint.h>

namespace halcyon::vswitch {

class TokenBucket {
public:
    TokenBucket() = default;
    // rate: tokens per second; burst: bucket depth in tokens. rate 0 = unlimited.
    TokenBucket(uint64_t rate_per_second, uint64_t burst, uint64_t now_ns);

    // Takes `tokens` if available at time now_ns; false (and nothing taken) otherwise.
    [[nodiscard]] bool consume(uint64_t tokens, uint64_t now_ns);
    [[nodiscard]] bool unlimited() const { return rate_ == 0; }
    [[nodiscard]] uint64_t available(uint64_t now_ns);

private:
    void refill(uint64_t now_ns);

    uint64_t rate_ = 0;  // tokens per second
    uint64_t depth_ = 0; // scaled
    uint64_t level_ = 0; // scaled
    uint64_t last_ns_ = 0;
};

} // namespace halcyon::vswitch
