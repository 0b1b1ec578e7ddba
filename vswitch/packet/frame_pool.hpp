// Where frames come from. The switch never allocates: flooding and mirroring copy a frame into
// one taken from a FramePool the caller supplies, and the caller returns delivered frames to it.
#pragma once

#include "vswitch/packet/frame.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vswitch {

class FramePool {
public:
    // A frame with `default_headroom()` bytes in front and no data, or nullptr when exhausted.
    [[nodiscard]] virtual Frame* allocate() = 0;
    virtual void release(Frame* frame) = 0;
    [[nodiscard]] virtual uint32_t default_headroom() const = 0;

protected:
    // Not virtual: pools are never destroyed through this interface (and a virtual destructor
    // would drag operator delete into freestanding builds).
    ~FramePool() = default;
};

// A fixed pool over caller-provided storage: `frames.size()` frames, each with `buffer_size` bytes
// of `buffers` (which must hold frames.size() * buffer_size bytes). O(1) allocate/release.
class FixedFramePool final : public FramePool {
public:
    FixedFramePool(std::span<Frame> frames, std::span<uint8_t> buffers, uint32_t buffer_size,
                   uint32_t headroom);

    [[nodiscard]] Frame* allocate() override;
    void release(Frame* frame) override;
    [[nodiscard]] uint32_t default_headroom() const override { return headroom_; }

    [[nodiscard]] uint32_t available() const { return available_; }
    [[nodiscard]] uint32_t size() const { return static_cast<uint32_t>(frames_.size()); }

private:
    std::span<Frame> frames_;
    Frame* free_ = nullptr;
    uint32_t headroom_ = 0;
    uint32_t available_ = 0;
};

// Copies `source` (bytes and metadata, headers included) into a frame from `pool`, keeping the
// pool's headroom. nullptr if the pool is empty or the frame does not fit.
[[nodiscard]] Frame* clone_frame(FramePool& pool, const Frame& source);

} // namespace halcyon::vswitch
