// A burst: the unit the pipeline processes, so per-call and per-stage costs are paid once per up to
// kMaxBurst frames. Holds pointers; the frames belong to a FramePool.
#pragma once

#include "vswitch/packet/frame.hpp"

#include <array>
#include <stdint.h>

namespace halcyon::vswitch {

inline constexpr uint32_t kMaxBurst = 64;
inline constexpr uint32_t kDefaultBurst = 32;

struct Burst {
    std::array<Frame*, kMaxBurst> frames{};
    uint32_t count = 0;

    [[nodiscard]] bool push(Frame* frame) {
        if (count == kMaxBurst)
            return false;
        frames[count++] = frame;
        return true;
    }
    [[nodiscard]] bool full() const { return count == kMaxBurst; }
    [[nodiscard]] bool empty() const { return count == 0; }
    void clear() { count = 0; }
    [[nodiscard]] Frame* operator[](uint32_t i) const { return frames[i]; }
    [[nodiscard]] Frame* const* begin() const { return frames.data(); }
    [[nodiscard]] Frame* const* end() const { return frames.data() + count; }
};

} // namespace halcyon::vswitch
