#include "vswitch/core/token_bucket.hpp"

namespace halcyon::vswitch {

namespace {
constexpr int64_t kScale = 1'000'000'000; // scaled units per byte
// Largest burst whose scaled depth (and one burst of debt below zero) fits an int64.
constexpr uint64_t kMaxBurstBytes = (INT64_MAX / kScale) / 2;
} // namespace

TokenBucket::TokenBucket(uint64_t bytes_per_second, uint64_t burst_bytes, uint64_t now_ns)
    : rate_(bytes_per_second), last_ns_(now_ns) {
    if (burst_bytes == 0)
        burst_bytes = 1;
    if (burst_bytes > kMaxBurstBytes)
        burst_bytes = kMaxBurstBytes;
    depth_ = static_cast<int64_t>(burst_bytes) * kScale;
    level_ = depth_;
}

void TokenBucket::refill(uint64_t now_ns) {
    if (now_ns <= last_ns_)
        return; // a clock stepping backwards must not mint bandwidth
    const uint64_t elapsed = now_ns - last_ns_;
    last_ns_ = now_ns;
    if (rate_ == 0)
        return;
    const uint64_t room = static_cast<uint64_t>(depth_ - level_);
    // Fill completely if elapsed * rate would reach the top (also avoids the multiply overflow).
    if (elapsed >= room / rate_ + 1) {
        level_ = depth_;
        return;
    }
    level_ += static_cast<int64_t>(elapsed * rate_);
}

// What must be in the bucket before `bytes` may go: all of it, or a full bucket for a frame larger
// than the burst (which then leaves the bucket in debt, so the long-term rate still holds).
int64_t TokenBucket::needed(uint64_t bytes) const {
    if (bytes > kMaxBurstBytes)
        return depth_;
    const int64_t scaled = static_cast<int64_t>(bytes) * kScale;
    return scaled < depth_ ? scaled : depth_;
}

bool TokenBucket::has(uint64_t bytes, uint64_t now_ns) {
    if (rate_ == 0)
        return true;
    refill(now_ns);
    return level_ >= needed(bytes);
}

bool TokenBucket::try_take(uint64_t bytes, uint64_t now_ns) {
    if (!has(bytes, now_ns))
        return false;
    charge(bytes, now_ns);
    return true;
}

void TokenBucket::charge(uint64_t bytes, uint64_t now_ns) {
    if (rate_ == 0)
        return;
    refill(now_ns);
    if (bytes > kMaxBurstBytes)
        bytes = kMaxBurstBytes;
    level_ -= static_cast<int64_t>(bytes) * kScale;
    if (level_ < -depth_)
        level_ = -depth_; // debt is bounded: a long-idle guarantee is not lost forever
}

uint64_t TokenBucket::level(uint64_t now_ns) {
    if (rate_ == 0)
        return UINT64_MAX;
    refill(now_ns);
    return level_ <= 0 ? 0 : static_cast<uint64_t>(level_) / kScale;
}

uint64_t TokenBucket::ready_at(uint64_t bytes, uint64_t now_ns) {
    if (rate_ == 0)
        return now_ns;
    refill(now_ns);
    const int64_t target = needed(bytes);
    if (level_ >= target)
        return now_ns;
    const uint64_t missing = static_cast<uint64_t>(target - level_);
    return now_ns + (missing + rate_ - 1) / rate_;
}

} // namespace halcyon::vswitch
