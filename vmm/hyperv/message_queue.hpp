// The messages waiting for a SINT's message slot of one virtual processor (TLFS "Message Buffer
// Queues": one queue per SINT, delivered in the order they were posted). The hypervisor's
// buffers are bounded: here one pool of kCapacity buffers per virtual processor serves all 16
// queues - the TLFS gives each port sixteen guest message buffers, and the VMBus host, the only
// poster, uses one SINT. A full pool refuses the message (DeliveryResult::queue_full); nothing
// is ever overwritten or dropped.
#pragma once

#include "vmm/hyperv/synic_ports.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::hyperv {

struct QueuedMessage {
    uint32_t type = 0;
    uint8_t sint = 0;
    uint8_t payload_size = 0;
    uint8_t payload[kMaxMessagePayloadBytes] = {};
    [[nodiscard]] std::span<const uint8_t> bytes() const { return {payload, payload_size}; }
};

class MessageQueue {
public:
    static constexpr uint32_t kCapacity = 16;

    // Appends to `sint`'s queue; false (nothing queued) when every buffer is in use. The
    // payload must be at most kMaxMessagePayloadBytes (callers check).
    [[nodiscard]] bool push(uint8_t sint, uint32_t type, std::span<const uint8_t> payload);
    // The oldest message of `sint`, or nullptr.
    [[nodiscard]] const QueuedMessage* front(uint8_t sint) const;
    // Removes the oldest message of `sint` (nothing if there is none).
    void pop(uint8_t sint);

    [[nodiscard]] uint32_t count(uint8_t sint) const { return counts_[sint % kSintCount]; }
    [[nodiscard]] uint32_t size() const { return used_; }
    // Bit n set: SINT n has queued messages.
    [[nodiscard]] uint16_t waiting_sints() const;
    void clear();

private:
    [[nodiscard]] int oldest(uint8_t sint) const;

    QueuedMessage buffers_[kCapacity];
    uint64_t sequence_[kCapacity] = {}; // posting order; 0 = buffer free
    uint64_t next_sequence_ = 1;
    uint32_t counts_[kSintCount] = {};
    uint32_t used_ = 0;
};

} // namespace halcyon::vmm::hyperv
