// The seam between the SynIC (vmm/hyperv, in the core) and whoever serves a partition's
// connections on the host side (the VMBus host in vmm/vmbus). Pure interfaces.
//
// Guest -> host: HvPostMessage(connection id, type, payload) and HvSignalEvent(connection id,
// flag) are validated by vmm/hyperv and handed to the SynicPort registered for that connection
// id (no port: HV_STATUS_INVALID_CONNECTION_ID). Ports are called on the vCPU's exit path,
// with no SynIC lock held, so a port may post a message back from inside the call.
// Host -> guest: SynicDelivery writes a message into the target vCPU's SIMP slot of a SINT (or
// queues it while the slot is busy, re-delivering on the guest's EOM), or sets a flag in the
// SIEF page, and asserts the SINT's vector on that vCPU.
#pragma once

#include <span>
#include <stdint.h>

namespace halcyon::vmm::hyperv {

inline constexpr uint32_t kMaxMessagePayloadBytes = 240; // TLFS HV_MESSAGE_PAYLOAD_BYTE_COUNT
inline constexpr uint32_t kSintCount = 16;

// The HV_STATUS values a port may return (the TLFS codes); the hypercall returns them as is.
enum class PortStatus : uint16_t {
    success = 0x0000,
    invalid_parameter = 0x0005,
    insufficient_buffers = 0x0013, // the port's queue is full: the guest retries later
    invalid_connection_id = 0x0012,
};

class SynicPort {
public:
    virtual ~SynicPort() = default;
    // HvPostMessage to this port's connection id from vCPU `vcpu`. `message_type` is the
    // guest's (its high bit is reserved for the hypervisor and already refused).
    [[nodiscard]] virtual PortStatus on_message(uint32_t vcpu, uint32_t message_type,
                                                std::span<const uint8_t> payload) = 0;
    // HvSignalEvent to this port's connection id.
    [[nodiscard]] virtual PortStatus on_event(uint32_t vcpu, uint16_t flag_number) = 0;
};

enum class DeliveryResult : uint8_t {
    delivered,   // in the slot, SINT asserted
    queued,      // slot busy: queued, delivered after the guest's EOM
    queue_full,  // slot busy and the queue is full: nothing done, try again later
    not_enabled, // SynIC, SIMP/SIEFP or the SINT is disabled or masked: nothing done
};

class SynicDelivery {
public:
    virtual ~SynicDelivery() = default;
    [[nodiscard]] virtual DeliveryResult post_message(uint32_t vcpu, uint8_t sint,
                                                      uint32_t message_type,
                                                      std::span<const uint8_t> payload) = 0;
    [[nodiscard]] virtual DeliveryResult signal_event(uint32_t vcpu, uint8_t sint,
                                                      uint32_t flag_number) = 0;
};

} // namespace halcyon::vmm::hyperv
