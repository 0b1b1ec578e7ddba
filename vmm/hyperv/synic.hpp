// The synthetic interrupt controller (SynIC) of one virtual processor, TLFS "Inter-Partition
// Communication": its MSRs, the message slots of its SIM page, the event flags of its SIEF page,
// and the queues of messages waiting for a slot. Pure: guest RAM through GuestMemory, the
// interrupts it raises collected in InterruptVectors (fixed, edge-triggered, on this virtual
// processor's local APIC). Not thread-safe: the partition keeps one lock per virtual processor.
//
// MSRs (per virtual processor; writes to reserved bits and invalid values raise #GP):
//   0x40000080 SCONTROL  bit 0 enable; bits 63:1 RsvdP (kept as written)
//   0x40000081 SVERSION  read-only: 1
//   0x40000082 SIEFP     bit 0 enable, 11:1 RsvdP, 63:12 page; enabling zeroes the page
//   0x40000083 SIMP      the same for the message page
//   0x40000084 EOM       write-only trigger (must be 0), reads 0: delivers queued messages
//   0x40000090-9F SINTx  7:0 vector, 16 masked, 17 AutoEOI, 18 polling, the rest RsvdP; reset
//                        value 0x10000 (masked); an unmasked vector below 16 is #GP
//
// Message delivery (TLFS "SynIC Messages"): a message goes into the SINT's slot if the slot is
// empty (type HvMessageTypeNone) - payload first, then the header word, so the guest never sees
// a type before its payload - and the SINT's vector is asserted unless the SINT is masked or
// polling. A busy slot gets MessagePending set (atomically: the guest clears the type of the
// same word at the same time), so the guest writes EOM after emptying it, and the message waits
// in the queue; EOM delivers the oldest waiting message of every SINT whose slot is free.
// Event flags (TLFS "SynIC Event Flags"): the flag's bit in the SINT's 256-byte block of the
// SIEF page is set with an atomic OR; the SINT is asserted only if the bit was clear.
#pragma once

#include "vmm/hyperv/guest_memory.hpp"
#include "vmm/hyperv/interrupt_vectors.hpp"
#include "vmm/hyperv/message_queue.hpp"
#include "vmm/hyperv/synic_layout.hpp"
#include "vmm/hyperv/synic_ports.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::hyperv {

enum class SlotResult : uint8_t {
    written,     // the message is in the slot (and the SINT asserted if unmasked)
    busy,        // the slot holds a message: MessagePending is set in it, nothing written
    unavailable, // SynIC or SIM page disabled, or the page is not guest RAM
};

class Synic {
public:
    Synic() { reset(); }

    // --- MSRs ---
    [[nodiscard]] static bool claims_msr(uint32_t msr);
    [[nodiscard]] bool read_msr(uint32_t msr, uint64_t& value) const;
    // False: #GP, nothing changed. `others_waiting` (bit n: something outside the queue, a
    // timer, waits for SINT n's slot) only matters for EOM, which delivers queued messages.
    [[nodiscard]] bool write_msr(uint32_t msr, uint64_t value, uint16_t others_waiting,
                                 GuestMemory& memory, InterruptVectors& raise);

    [[nodiscard]] bool enabled() const { return (scontrol_ & kScontrolEnable) != 0; }
    [[nodiscard]] bool messages_enabled() const {
        return enabled() && (simp_ & kSynicPageEnable) != 0;
    }
    [[nodiscard]] bool events_enabled() const {
        return enabled() && (siefp_ & kSynicPageEnable) != 0;
    }
    [[nodiscard]] uint64_t sint(uint8_t index) const { return sint_[index % kSintCount]; }
    // Whether interrupts of SINT `index` are suppressed: masked (polling unmasks, TLFS).
    [[nodiscard]] bool sint_masked(uint8_t index) const;
    // The vectors of the unmasked SINTs with AutoEOI: the local APIC ends those interrupts
    // itself (no ISR bit, no EOI needed).
    [[nodiscard]] InterruptVectors auto_eoi_vectors() const;

    // --- delivery ---
    // Puts a message into SINT `sint`'s slot if it is free. `more_waiting` sets MessagePending
    // in the message written (another message waits for the same slot).
    [[nodiscard]] SlotResult write_slot(uint8_t sint, uint32_t type,
                                        std::span<const uint8_t> payload, bool more_waiting,
                                        GuestMemory& memory, InterruptVectors& raise);
    // SynicDelivery::post_message: into the slot, or the queue behind earlier messages.
    // not_enabled when the SynIC or SIM page is disabled (or not RAM) or the SINT masked.
    [[nodiscard]] DeliveryResult post_message(uint8_t sint, uint32_t type,
                                              std::span<const uint8_t> payload,
                                              uint16_t others_waiting, GuestMemory& memory,
                                              InterruptVectors& raise);
    // SynicDelivery::signal_event. not_enabled when the SynIC or SIEF page is disabled (or not
    // RAM), the SINT masked, or the flag beyond the SINT's 2048 flags.
    [[nodiscard]] DeliveryResult signal_event(uint8_t sint, uint32_t flag_number,
                                              GuestMemory& memory, InterruptVectors& raise);
    // Delivers the oldest queued message of every SINT whose slot is free (EOM does this).
    void deliver_queued(uint16_t others_waiting, GuestMemory& memory, InterruptVectors& raise);

    [[nodiscard]] const MessageQueue& queue() const { return queue_; }

    // Creation / reset state (TLFS): everything zero, every SINT masked, queues empty.
    void reset();

private:
    void assert_sint(uint8_t sint, InterruptVectors& raise) const;
    [[nodiscard]] bool write_page_msr(uint64_t& reg, uint64_t value, GuestMemory& memory);
    [[nodiscard]] bool write_sint(uint8_t index, uint64_t value);

    uint64_t scontrol_ = 0;
    uint64_t siefp_ = 0;
    uint64_t simp_ = 0;
    uint64_t sint_[kSintCount] = {};
    MessageQueue queue_;
};

} // namespace halcyon::vmm::hyperv
