#include "vmm/hyperv/message_queue.hpp"

#include <string.h>

namespace halcyon::vmm::hyperv {

bool MessageQueue::push(uint8_t sint, uint32_t type, std::span<const uint8_t> payload) {
    if (sint >= kSintCount || payload.size() > kMaxMessagePayloadBytes || used_ == kCapacity)
        return false;
    for (uint32_t i = 0; i < kCapacity; ++i) {
        if (sequence_[i] != 0)
            continue;
        QueuedMessage& message = buffers_[i];
        message.type = type;
        message.sint = sint;
        message.payload_size = static_cast<uint8_t>(payload.size());
        if (!payload.empty())
            memcpy(message.payload, payload.data(), payload.size());
        sequence_[i] = next_sequence_++;
        ++counts_[sint];
        ++used_;
        return true;
    }
    return false;
}

int MessageQueue::oldest(uint8_t sint) const {
    int found = -1;
    for (uint32_t i = 0; i < kCapacity; ++i) {
        if (sequence_[i] != 0 && buffers_[i].sint == sint &&
            (found < 0 || sequence_[i] < sequence_[found]))
            found = static_cast<int>(i);
    }
    return found;
}

const QueuedMessage* MessageQueue::front(uint8_t sint) const {
    if (sint >= kSintCount || counts_[sint] == 0)
        return nullptr;
    const int index = oldest(sint);
    return index < 0 ? nullptr : &buffers_[index];
}

void MessageQueue::pop(uint8_t sint) {
    if (sint >= kSintCount || counts_[sint] == 0)
        return;
    const int index = oldest(sint);
    if (index < 0)
        return;
    sequence_[index] = 0;
    --counts_[sint];
    --used_;
}

uint16_t MessageQueue::waiting_sints() const {
    uint16_t mask = 0;
    for (uint32_t sint = 0; sint < kSintCount; ++sint) {
        if (counts_[sint] != 0)
            mask |= static_cast<uint16_t>(1u << sint);
    }
    return mask;
}

void MessageQueue::clear() {
    for (uint64_t& sequence : sequence_)
        sequence = 0;
    for (uint32_t& count : counts_)
        count = 0;
    used_ = 0;
}

} // namespace halcyon::vmm::hyperv
