// Host->guest channel-management messages on their way into the guest's SynIC message slot for
// VMBus (SINT 2). The SynIC holds one message per slot plus a small queue; when that is full it
// answers queue_full and the message waits here, in order, until retry (poll()). Messages are
// never reordered: once one waits, every later one queues behind it (an offer must reach the
// guest before the ALL_OFFERS_DELIVERED that follows it).
#pragma once

#include "vmm/hyperv/synic_ports.hpp"
#include "vmm/vmbus/vmbus_limits.hpp"
#include "vmm/vmbus/vmbus_log.hpp"
#include "vmm/vmbus/vmbus_protocol.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::vmbus {

class Outbox {
public:
    [[nodiscard]] uint32_t free_slots() const { return kOutboxCapacity - count_; }
    [[nodiscard]] uint32_t waiting() const { return count_; }

    // Delivers now when nothing waits, else queues. False (nothing done) when the outbox is full.
    [[nodiscard]] bool send(hyperv::SynicDelivery& synic, VmbusLog& log, uint32_t vcpu,
                            std::span<const uint8_t> message);
    // Retries the waiting messages in order, stopping at the first the SynIC cannot take.
    void flush(hyperv::SynicDelivery& synic, VmbusLog& log);
    // Forgets every waiting message (the guest unloaded VMBus: they are for a dead connection).
    void clear() { head_ = count_ = 0; }

    [[nodiscard]] uint64_t retries() const { return retries_; }
    [[nodiscard]] uint64_t dropped() const { return dropped_; }

private:
    struct Entry {
        uint32_t vcpu;
        uint32_t bytes;
        uint8_t payload[protocol::kMaxMessageBytes];
    };

    // True when the message left (delivered, queued by the SynIC, or dropped for good).
    [[nodiscard]] bool try_deliver(hyperv::SynicDelivery& synic, VmbusLog& log, uint32_t vcpu,
                                   std::span<const uint8_t> message);

    Entry entries_[kOutboxCapacity];
    uint32_t head_ = 0;
    uint32_t count_ = 0;
    uint64_t retries_ = 0;
    uint64_t dropped_ = 0;
};

} // namespace halcyon::vmm::vmbus
