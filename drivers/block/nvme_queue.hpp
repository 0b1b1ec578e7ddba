// One NVMe submission/completion queue pair (NVMe 1.4, 4.1), driver side: entries are copied to
// the submission tail and announced through its doorbell; completions are recognised by their
// phase tag, which the controller inverts on every pass through the completion queue, and
// consumed through the completion head doorbell. Pure over RegisterWindow and DMA memory.
#pragma once

#include "drivers/block/nvme_spec.hpp"
#include "drivers/block/register_window.hpp"
#include "drivers/net/device_memory.hpp"
#include "lib/base/error_or.hpp"

#include <optional>
#include <stdint.h>

namespace halcyon::drivers::block::nvme {

class QueuePair {
public:
    // Bytes of DMA memory a queue pair of `entries` needs for each queue.
    [[nodiscard]] static size_t submission_bytes(uint16_t entries) {
        return size_t(entries) * sizeof(SubmissionEntry);
    }
    [[nodiscard]] static size_t completion_bytes(uint16_t entries) {
        return size_t(entries) * sizeof(CompletionEntry);
    }

    // `submission` and `completion` are zeroed, page-aligned DMA memory of at least the sizes
    // above; `doorbell_stride` is CAP.DSTRD in bytes. Queue `id` 0 is the admin queue.
    [[nodiscard]] static ErrorOr<QueuePair> create(uint16_t id, uint16_t entries,
                                                   const DmaRegion& submission,
                                                   const DmaRegion& completion,
                                                   uint32_t doorbell_stride);
    QueuePair() = default;

    [[nodiscard]] uint16_t id() const { return id_; }
    [[nodiscard]] uint16_t entries() const { return entries_; }
    [[nodiscard]] uint64_t submission_address() const { return submission_.device_address; }
    [[nodiscard]] uint64_t completion_address() const { return completion_.device_address; }
    [[nodiscard]] uint32_t submission_doorbell() const;
    [[nodiscard]] uint32_t completion_doorbell() const;

    // Copies `entry` into the tail slot and rings the tail doorbell; busy when the queue is full
    // (the controller has not yet reported consuming enough entries).
    [[nodiscard]] ErrorOr<void> submit(RegisterWindow& registers, const SubmissionEntry& entry);
    // The next completion the controller posted, if any; consumes it (head doorbell rung).
    [[nodiscard]] std::optional<CompletionEntry> take_completion(RegisterWindow& registers);

private:
    uint16_t id_ = 0;
    uint16_t entries_ = 0;
    uint32_t doorbell_stride_ = 4;
    DmaRegion submission_;
    DmaRegion completion_;
    uint16_t sq_tail_ = 0;
    uint16_t sq_head_ = 0; // as last reported by a completion
    uint16_t cq_head_ = 0;
    bool phase_ = true; // the phase tag new completions carry on this pass
};

} // namespace halcyon::drivers::block::nvme
