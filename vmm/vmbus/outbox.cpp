#include "vmm/vmbus/outbox.hpp"

#include <string.h>

namespace halcyon::vmm::vmbus {

bool Outbox::try_deliver(hyperv::SynicDelivery& synic, VmbusLog& log, uint32_t vcpu,
                         std::span<const uint8_t> message) {
    switch (
        synic.post_message(vcpu, protocol::kMessageSint, protocol::kHvMessageTypeVmbus, message)) {
    case hyperv::DeliveryResult::delivered:
    case hyperv::DeliveryResult::queued:
        return true;
    case hyperv::DeliveryResult::queue_full:
        return false;
    case hyperv::DeliveryResult::not_enabled:
        // The guest turned its SynIC (or SINT 2) off: nobody will ever read this message.
        ++dropped_;
        log.refuse("message for vCPU %u dropped: its SynIC does not take VMBus messages", vcpu);
        return true;
    }
    return false;
}

bool Outbox::send(hyperv::SynicDelivery& synic, VmbusLog& log, uint32_t vcpu,
                  std::span<const uint8_t> message) {
    if (message.size() > protocol::kMaxMessageBytes)
        return false;
    if (count_ == 0 && try_deliver(synic, log, vcpu, message))
        return true;
    if (count_ == kOutboxCapacity)
        return false;
    Entry& entry = entries_[(head_ + count_) % kOutboxCapacity];
    entry.vcpu = vcpu;
    entry.bytes = static_cast<uint32_t>(message.size());
    memcpy(entry.payload, message.data(), message.size());
    ++count_;
    return true;
}

void Outbox::flush(hyperv::SynicDelivery& synic, VmbusLog& log) {
    while (count_ != 0) {
        Entry& entry = entries_[head_];
        ++retries_;
        if (!try_deliver(synic, log, entry.vcpu,
                         std::span<const uint8_t>(entry.payload, entry.bytes)))
            return;
        head_ = (head_ + 1) % kOutboxCapacity;
        --count_;
    }
}

} // namespace halcyon::vmm::vmbus
