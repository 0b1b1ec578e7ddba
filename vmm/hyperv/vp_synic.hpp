// Everything the SynIC is for one virtual processor: the SynIC itself (synic.hpp) and its four
// synthetic timers (synthetic_timer.hpp), which deliver their expirations through it. Pure and
// not thread-safe, like its parts: the partition keeps one lock per virtual processor and calls
//   RDMSR/WRMSR     read_msr / write_msr for the MSRs claims_msr() names (false: #GP)
//   host -> guest   post_message / signal_event (SynicDelivery)
//   before entry    update(now) once the reference time reaches next_deadline()
// then asserts the vectors collected in InterruptVectors on the virtual processor's local APIC,
// and gives the APIC auto_eoi_vectors() after SINT writes. Times are reference times (100 ns).
//
// Timer signals: direct mode asserts the timer's APIC vector (no SynIC needed: Linux uses
// direct-mode STIMER0 as its clockevent before, and without, VMBus). Message mode writes
// HvMessageTimerExpired {timer index, expiration time, delivery time} into the SINT's slot; a
// busy slot gets MessagePending and the signal is retried when the guest writes EOM, an
// unusable one (SynIC or SIM page disabled) when the guest changes a SynIC MSR. On EOM the
// waiting timer messages go first, then the queued host messages.
#pragma once

#include "vmm/hyperv/synic.hpp"
#include "vmm/hyperv/synthetic_timer.hpp"

#include <stdint.h>

namespace halcyon::vmm::hyperv {

class VpSynic {
public:
    VpSynic();

    [[nodiscard]] static bool claims_msr(uint32_t msr);
    [[nodiscard]] bool read_msr(uint32_t msr, uint64_t& value) const;
    [[nodiscard]] bool write_msr(uint32_t msr, uint64_t value, uint64_t now, GuestMemory& memory,
                                 InterruptVectors& raise);

    [[nodiscard]] DeliveryResult post_message(uint8_t sint, uint32_t type,
                                              std::span<const uint8_t> payload, GuestMemory& memory,
                                              InterruptVectors& raise);
    [[nodiscard]] DeliveryResult signal_event(uint8_t sint, uint32_t flag_number,
                                              GuestMemory& memory, InterruptVectors& raise) {
        return synic_.signal_event(sint, flag_number, memory, raise);
    }

    // The earliest reference time at which update() has a timer to fire (SyntheticTimer::kNever
    // if none).
    [[nodiscard]] uint64_t next_deadline() const;
    // Fires the timers that are due at `now` and delivers their signals.
    void update(uint64_t now, GuestMemory& memory, InterruptVectors& raise);

    [[nodiscard]] InterruptVectors auto_eoi_vectors() const { return synic_.auto_eoi_vectors(); }
    [[nodiscard]] const Synic& synic() const { return synic_; }
    [[nodiscard]] const SyntheticTimer& timer(uint32_t index) const {
        return timers_[index % kStimerCount];
    }

    // Creation / reset state.
    void reset();

private:
    // SINTs that a message-mode timer signal waits for.
    [[nodiscard]] uint16_t timers_waiting() const;
    // Delivers every pending timer signal it can at `now`.
    void deliver_timer_signals(uint64_t now, GuestMemory& memory, InterruptVectors& raise);
    [[nodiscard]] bool deliver_timer_message(SyntheticTimer& timer, uint64_t now,
                                             GuestMemory& memory, InterruptVectors& raise);

    Synic synic_;
    SyntheticTimer timers_[kStimerCount];
};

} // namespace halcyon::vmm::hyperv
