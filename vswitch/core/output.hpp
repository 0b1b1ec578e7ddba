// Where frames leave the switch. Either an EgressSink the caller installs (called once per
// delivered frame; ownership passes to it), or the switch's own per-port rings that the caller
// drains after each process() call.
#pragma once

#include "vswitch/packet/burst.hpp"
#include "vswitch/packet/drop_reason.hpp"
#include "vswitch/packet/frame.hpp"

#include <array>
#include <stdint.h>

namespace halcyon::vswitch {

class EgressSink {
public:
    // The frame now belongs to the sink (return it to frame->pool when done). False = could not
    // take it: the switch drops it as egress_queue_full.
    [[nodiscard]] virtual bool deliver(PortId port, Frame* frame) = 0;

protected:
    ~EgressSink() = default;
};

// Told about every drop, before the frame goes back to its pool (for drop reports/traces).
struct DropEvent {
    PortId ingress_port = kNoPort;
    PortId egress_port = kNoPort; // kNoPort for drops before a destination was chosen
    DropReason reason = DropReason::malformed;
    uint64_t now_ns = 0;
};

class DropObserver {
public:
    virtual void on_drop(const DropEvent& event, const Frame& frame) = 0;

protected:
    ~DropObserver() = default;
};

inline constexpr uint32_t kOutputRingSize = 256; // power of two

// A single-producer/single-consumer ring of frame pointers (both sides on the caller's thread
// today; kept as a ring so a later NIC/VMBus driver can drain it as a queue).
class OutputRing {
public:
    [[nodiscard]] bool push(Frame* frame) {
        if (tail_ - head_ == kOutputRingSize)
            return false;
        slots_[tail_++ % kOutputRingSize] = frame;
        return true;
    }
    [[nodiscard]] Frame* pop() {
        if (head_ == tail_)
            return nullptr;
        return slots_[head_++ % kOutputRingSize];
    }
    [[nodiscard]] uint32_t size() const { return tail_ - head_; }
    [[nodiscard]] uint32_t room() const { return kOutputRingSize - (tail_ - head_); }
    // push() of a frame the caller knows has room (room() said so).
    void push_with_room(Frame* frame) { slots_[tail_++ % kOutputRingSize] = frame; }
    // Moves up to `max` frames into `out`; returns how many.
    uint32_t pop_many(Frame** out, uint32_t max) {
        uint32_t moved = 0;
        while (moved < max && head_ != tail_)
            out[moved++] = slots_[head_++ % kOutputRingSize];
        return moved;
    }

private:
    std::array<Frame*, kOutputRingSize> slots_{};
    uint32_t head_ = 0;
    uint32_t tail_ = 0;
};

} // namespace halcyon::vswitch
