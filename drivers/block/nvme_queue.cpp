#include "drivers/block/nvme_queue.hpp"

#include <string.h>

namespace halcyon::drivers::block::nvme {

ErrorOr<QueuePair> QueuePair::create(uint16_t id, uint16_t entries, const DmaRegion& submission,
                                     const DmaRegion& completion, uint32_t doorbell_stride) {
    if (entries < 2)
        return Error(ErrorCode::invalid_argument, "an NVMe queue needs at least two entries");
    if (submission.size < submission_bytes(entries) || completion.size < completion_bytes(entries))
        return Error(ErrorCode::invalid_argument, "NVMe queue memory is too small");
    if ((submission.device_address & 4095) != 0 || (completion.device_address & 4095) != 0)
        return Error(ErrorCode::invalid_argument, "NVMe queue memory is not page aligned");
    QueuePair pair;
    pair.id_ = id;
    pair.entries_ = entries;
    pair.doorbell_stride_ = doorbell_stride;
    pair.submission_ = submission;
    pair.completion_ = completion;
    // Phase tags of a fresh completion queue are 0, so the first pass looks for 1.
    memset(completion.virt, 0, completion_bytes(entries));
    return pair;
}

uint32_t QueuePair::submission_doorbell() const {
    return kDoorbellBase + (2u * id_) * doorbell_stride_;
}

uint32_t QueuePair::completion_doorbell() const {
    return kDoorbellBase + (2u * id_ + 1) * doorbell_stride_;
}

ErrorOr<void> QueuePair::submit(RegisterWindow& registers, const SubmissionEntry& entry) {
    const uint16_t next = static_cast<uint16_t>((sq_tail_ + 1) % entries_);
    if (next == sq_head_)
        return Error(ErrorCode::busy, "NVMe submission queue is full");
    memcpy(submission_.virt + size_t(sq_tail_) * sizeof(SubmissionEntry), &entry, sizeof entry);
    // The entry must be in memory before the doorbell write makes the controller fetch it; x86
    // keeps stores in order, so only the compiler must not move them.
    asm volatile("" ::: "memory");
    sq_tail_ = next;
    registers.write32(submission_doorbell(), sq_tail_);
    return {};
}

std::optional<CompletionEntry> QueuePair::take_completion(RegisterWindow& registers) {
    const volatile CompletionEntry* slot =
        reinterpret_cast<const volatile CompletionEntry*>(completion_.virt) + cq_head_;
    const uint16_t status = slot->status;
    if (completion_phase(status) != phase_)
        return std::nullopt;
    // Read the rest of the entry only after its phase tag said it is complete.
    asm volatile("" ::: "memory");
    CompletionEntry entry;
    entry.dw0 = slot->dw0;
    entry.dw1 = slot->dw1;
    entry.sq_head = slot->sq_head;
    entry.sq_id = slot->sq_id;
    entry.command_id = slot->command_id;
    entry.status = status;
    if (entry.sq_head < entries_)
        sq_head_ = entry.sq_head;
    cq_head_ = static_cast<uint16_t>(cq_head_ + 1);
    if (cq_head_ == entries_) {
        cq_head_ = 0;
        phase_ = !phase_;
    }
    registers.write32(completion_doorbell(), cq_head_);
    return entry;
}

} // namespace halcyon::drivers::block::nvme
