// How often the core restarts a crashed management partition (docs/management-partition.md,
// "Crash and restart"): at most kMaxRestarts times within any kWindowSeconds; a crash beyond
// that disables management for the rest of the host's life. Pure code (times are TSC values).
#pragma once

#include <stdint.h>

namespace halcyon::mgmt_host {

class RestartBudget {
public:
    static constexpr uint32_t kMaxRestarts = 3;
    static constexpr uint64_t kWindowSeconds = 600;

    explicit RestartBudget(uint64_t tsc_hz) : window_(tsc_hz * kWindowSeconds) {}

    // A crash at `now`: true (and counted) when another restart is allowed.
    [[nodiscard]] bool allow(uint64_t now) {
        uint32_t recent = 0;
        for (uint32_t i = 0; i < kMaxRestarts; ++i) {
            if (used_[i] && now - at_[i] < window_)
                ++recent;
        }
        ++crashes_;
        if (recent >= kMaxRestarts)
            return false;
        // Replace the oldest (or an unused) slot.
        uint32_t slot = 0;
        for (uint32_t i = 0; i < kMaxRestarts; ++i) {
            if (!used_[i]) {
                slot = i;
                break;
            }
            if (at_[i] < at_[slot])
                slot = i;
        }
        used_[slot] = true;
        at_[slot] = now;
        ++restarts_;
        return true;
    }
    [[nodiscard]] uint32_t crashes() const { return crashes_; }
    [[nodiscard]] uint32_t restarts() const { return restarts_; }

private:
    uint64_t window_;
    uint64_t at_[kMaxRestarts] = {};
    bool used_[kMaxRestarts] = {};
    uint32_t crashes_ = 0;
    uint32_t restarts_ = 0;
};

} // namespace halcyon::mgmt_host
