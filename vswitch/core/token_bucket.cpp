#include "vswitch/core/token_bucket.hpp"

namespace halcyon::vswitch {
namespace {
// Scaled units per token: 1e9 makes "tokens added = elapsed_ns * rate" exact in scaled units.
constexpr uint64_t kScale = 1'000'000'000;
} // namespace

TokenBucket::TokenBucket(uint64_t rate_per_second, uint64_t burst, uint64_t now_ns)
    : rate_(rate_per_second), last_ns_(now_ns) {
    if (burst == 0)
        burst = 1;
    // Clamp so depth * kScale never overflows (about 18 billion tokens).
    if (burst > UINT64_MAX / kScale)
        burst = UINT64_MAX / kScale;
    depth_ = burst * kScale;
    level_ = depth_;
}

void TokenBucket::refill(uint64_t now_ns) {
    if (now_ns <= last_ns_)
        return; // a clock that steps back must not mint tokens
    uint64_t elapsed = now_ns - last_ns_;
    last_ns_ = now_ns;
    uint64_t room = depth_ - level_;
    // elapsed * rate scaled tokens, without overflowing: if the bucket would fill anyway, fill it.
    if (rate_ != 0 && elapsed >= room / rate_ + (room % rate_ != 0 ? 1 : 0)) {
        level_ = depth_;
        return;
    }
    level_ += elapsed * rate_;
}

bool TokenBucket::consume(uint64_t tokens, uint64_t now_ns) {
    if (rate_ == 0)
        return true;
    refill(now_ns);
    if (tokens > depth_ / kScale)
        return false;
    uint64_t needed = tokens * kScale;
    if (level_ < needed)
        return false;
    level_ -= needed;
    return true;
}

uint64_t TokenBucket::available(uint64_t now_ns) {
    if (rate_ == 0)
        return UINT64_MAX;
    refill(now_ns);
    return level_ / kScale;
}

} // namespace halcyon::vswitch
