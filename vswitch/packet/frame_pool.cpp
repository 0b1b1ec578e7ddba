#include "vswitch/packet/frame_pool.hpp"

#include <string.h>

namespace halcyon::vswitch {

FixedFramePool::FixedFramePool(std::span<Frame> frames, std::span<uint8_t> buffers,
                               uint32_t buffer_size, uint32_t headroom)
    : frames_(frames), headroom_(headroom) {
    // Only as many frames as the buffer storage covers; a short buffer shrinks the pool instead of
    // handing out frames that overlap.
    size_t usable = buffer_size == 0 ? 0 : buffers.size() / buffer_size;
    if (usable > frames.size())
        usable = frames.size();
    if (headroom > buffer_size)
        usable = 0;
    frames_ = frames.first(usable);
    for (size_t i = usable; i-- > 0;) {
        Frame& frame = frames_[i];
        frame = Frame{};
        frame.buffer = buffers.data() + i * buffer_size;
        frame.capacity = buffer_size;
        frame.pool = this;
        frame.reset(headroom_);
        frame.pool_next = free_;
        free_ = &frame;
    }
    available_ = static_cast<uint32_t>(usable);
}

Frame* FixedFramePool::allocate() {
    Frame* frame = free_;
    if (frame == nullptr)
        return nullptr;
    free_ = frame->pool_next;
    frame->pool_next = nullptr;
    frame->reset(headroom_);
    --available_;
    return frame;
}

void FixedFramePool::release(Frame* frame) {
    if (frame == nullptr || frame->pool != this)
        return;
    frame->pool_next = free_;
    free_ = frame;
    ++available_;
}

Frame* clone_frame(FramePool& pool, const Frame& source) {
    Frame* copy = pool.allocate();
    if (copy == nullptr)
        return nullptr;
    if (source.length > copy->capacity - copy->offset) {
        pool.release(copy);
        return nullptr;
    }
    memcpy(copy->data(), source.data(), source.length);
    copy->length = source.length;
    copy->ingress_port = source.ingress_port;
    copy->vlan_id = source.vlan_id;
    copy->priority = source.priority;
    copy->vsid = source.vsid;
    copy->flow_id = source.flow_id;
    copy->timestamp_ns = source.timestamp_ns;
    copy->headers = source.headers;
    return copy;
}

} // namespace halcyon::vswitch
