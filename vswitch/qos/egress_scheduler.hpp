// The egress scheduler of a shared port (typically the external NIC that all VMs send through):
// one FIFO per traffic class (a class is a sending port), drained at the link's rate with
//   - maximum bandwidth per class: a byte token bucket; a class over its cap waits (shaping),
//   - minimum bandwidth per class, in one of the seeds' two modes:
//       absolute ("strict"): a guaranteed rate in bits/s; the sum may not exceed the link rate;
//       weight ("relative"): a guaranteed share weight / sum(weights) of the link rate,
//   - the rest shared by weight (absolute mode: `weight` if set, else equally), work-conserving:
//     whenever the link can send and some class has an eligible frame, a frame goes.
//
// Two phases per transmit opportunity. Guarantee phase: classes whose minimum-rate bucket holds
// the head frame's bytes are served round-robin and pay from that bucket; this delivers every
// class at least its minimum under any contention. Excess phase: otherwise the eligible class
// with the smallest virtual finish ("pass", stride scheduling) sends; its pass advances by
// bytes / weight, so leftover bandwidth divides in proportion to weight. In weight mode a class
// with weight 0 (no minimum) only gets what weighted classes leave over. Everything is integer
// arithmetic on the caller's clock; the per-frame cost is a scan of a 64-bit mask of backlogged
// classes.
#pragma once

#include "lib/base/error_or.hpp"
#include "vswitch/core/token_bucket.hpp"
#include "vswitch/packet/frame.hpp"

#include <array>
#include <span>
#include <stdint.h>

namespace halcyon::vswitch::qos {

inline constexpr uint32_t kMaxClasses = 64;

enum class MinimumMode : uint8_t {
    absolute, // minimums in bits per second
    weight,   // minimums as relative weights
};

struct ClassConfig {
    uint64_t maximum_bits_per_second = 0; // 0 = no cap
    uint64_t maximum_burst_bytes = 0;     // 0 = a default of 10 ms at the cap (at least 16 KiB)
    uint64_t minimum_bits_per_second = 0; // absolute mode
    // Weight mode: the minimum share (0..100 as in Hyper-V; 0 = best effort, served last).
    // Absolute mode: the share of leftover bandwidth (0 = 1, i.e. equal shares).
    uint32_t weight = 0;
};

struct SchedulerConfig {
    uint64_t link_bits_per_second = 10'000'000'000;
    MinimumMode mode = MinimumMode::weight;
    // Transmit burst of the link itself (bytes the NIC ring may take at once).
    uint64_t link_burst_bytes = 2 * 1518;
};

struct ClassStatistics {
    uint64_t sent_packets = 0;
    uint64_t sent_bytes = 0;
    uint64_t guaranteed_bytes = 0; // part of sent_bytes that used the minimum guarantee
    uint64_t queue_full_drops = 0;
    uint32_t queued = 0;
};

class EgressScheduler {
public:
    // `ring_storage` is split evenly into one FIFO per class (at least one slot each).
    [[nodiscard]] static ErrorOr<EgressScheduler>
    create(const SchedulerConfig& config, std::span<Frame*> ring_storage, uint64_t now_ns);

    // Configures class `index`. In absolute mode the minimums of all classes must fit the link.
    [[nodiscard]] ErrorOr<void> configure_class(uint32_t index, const ClassConfig& config,
                                                uint64_t now_ns);

    // Queues `frame` on class `index`; false (frame not taken) if that FIFO is full.
    [[nodiscard]] bool enqueue(uint32_t index, Frame* frame);

    // The next frame the link may send at now_ns, or nullptr (idle, link busy, or every backlogged
    // class held back by its cap). `class_out` receives the frame's class.
    [[nodiscard]] Frame* dequeue(uint64_t now_ns, uint32_t* class_out = nullptr);

    // When dequeue() may next return a frame (UINT64_MAX if nothing is queued): lets a caller
    // sleep instead of polling.
    [[nodiscard]] uint64_t next_ready_ns(uint64_t now_ns);

    [[nodiscard]] const ClassStatistics& statistics(uint32_t index) const { return stats_[index]; }
    [[nodiscard]] uint64_t backlog_mask() const { return backlogged_; }

private:
    struct ClassState {
        ClassConfig config;
        TokenBucket maximum; // unlimited unless capped
        TokenBucket minimum; // the guarantee; rate 0 = none
        uint64_t pass = 0;   // virtual finish for the excess phase
        uint64_t stride = 0; // pass advance per byte (kStrideUnit / weight); 0 = no weight
        uint32_t head = 0;
        uint32_t count = 0;
    };

    EgressScheduler() = default;
    [[nodiscard]] ErrorOr<void> rebuild_minimums(uint64_t now_ns);
    [[nodiscard]] uint32_t head_bytes(uint32_t index) const;
    Frame* pop(uint32_t index);

    SchedulerConfig config_;
    TokenBucket link_;
    std::span<Frame*> storage_;
    uint32_t depth_ = 0; // FIFO slots per class
    std::array<ClassState, kMaxClasses> classes_{};
    std::array<ClassStatistics, kMaxClasses> stats_{};
    uint64_t configured_ = 0; // classes with a configuration
    uint64_t backlogged_ = 0; // classes with queued frames
    uint32_t guarantee_cursor_ = 0;
    uint32_t best_effort_cursor_ = 0;
    uint64_t virtual_time_ = 0; // pass of the last frame sent in the excess phase
};

} // namespace halcyon::vswitch::qos
