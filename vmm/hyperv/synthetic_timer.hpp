// One synthetic timer of a virtual processor (TLFS "Timers", "Synthetic Timers"): the
// STIMERx_CONFIG and STIMERx_COUNT MSRs and when the timer expires, in reference time (100 ns
// units since partition creation). Pure: it only says that a signal is due; VpSynic delivers it
// (an interrupt on the APIC vector in direct mode, an HvMessageTimerExpired message to the SINT
// otherwise) and reports back.
//
// CONFIG: 0 enable, 1 periodic, 2 lazy, 3 auto-enable, 11:4 APIC vector (direct mode), 12 direct
// mode, 19:16 SINT; bits 15:13 and 63:20 are RsvdZ (#GP). Direct mode with a vector below 16 is
// #GP too. An enabled message-mode timer with SINT 0, or an enabled timer whose count is 0, is
// disabled at once (TLFS).
// COUNT: one-shot - the absolute expiration time; periodic - the period, the first one starting
// when the timer is enabled (or the count written while enabled). Writing 0 disables the timer;
// a non-zero count with auto-enable enables it. A one-shot timer whose time has passed expires
// at once, and disables itself when its signal is delivered.
//
// One signal at a time (the TLFS's one dedicated message buffer per timer): a due signal stays
// pending until it is delivered, and the timer does not advance meanwhile.
// Missed periods (the vCPU did not run, or the signal waited for a message slot), TLFS
// "Periodic Timers":
//   - not lazy: "period modulation" - the late expirations are signalled one after the other
//     (each as soon as the previous one was delivered) while at most kMaxCatchUpPeriods are
//     missed; further behind, the missed ones are skipped and the latest is signalled;
//   - lazy: never catches up - the missed expirations are skipped, the latest one is signalled,
//     and skipped too when the next one is due within an eighth of a period.
// The expiration time reported is always the one on the period grid the signal stands for.
#pragma once

#include <stdint.h>

namespace halcyon::vmm::hyperv {

class SyntheticTimer {
public:
    static constexpr uint64_t kNever = ~uint64_t{0};
    static constexpr uint64_t kMaxCatchUpPeriods = 4;

    explicit SyntheticTimer(uint8_t index = 0) : index_(index) {}

    [[nodiscard]] uint8_t index() const { return index_; }
    [[nodiscard]] uint64_t config() const { return config_; }
    [[nodiscard]] uint64_t count() const { return count_; }
    // MSR writes at reference time `now`. write_config false: #GP, nothing changed.
    [[nodiscard]] bool write_config(uint64_t value, uint64_t now);
    void write_count(uint64_t value, uint64_t now);

    [[nodiscard]] bool enabled() const;
    [[nodiscard]] bool periodic() const;
    [[nodiscard]] bool lazy() const;
    [[nodiscard]] bool direct_mode() const;
    [[nodiscard]] uint8_t vector() const; // direct mode
    [[nodiscard]] uint8_t sint() const;   // message mode

    // When expire() next has something to do: the next expiration, or kNever while the timer is
    // disabled or its signal waits for delivery (the caller retries that on EOM and SynIC
    // changes, not on time).
    [[nodiscard]] uint64_t deadline() const;
    // Brings the timer to `now`; true while a signal is pending (a due expiration becomes one).
    [[nodiscard]] bool expire(uint64_t now);
    [[nodiscard]] bool signal_pending() const { return pending_; }
    // The expiration time the pending signal stands for (HV_TIMER_MESSAGE_PAYLOAD).
    [[nodiscard]] uint64_t signal_expiration() const { return signal_expiration_; }
    // The pending signal reached the guest: a one-shot timer disables itself, a periodic one
    // moves to its next period.
    void signal_delivered();

    void reset();

private:
    // (Re)starts an enabled timer at `now`, or disables it when it cannot run.
    void start(uint64_t now);

    uint8_t index_;
    uint64_t config_ = 0;
    uint64_t count_ = 0;
    uint64_t expiry_ = kNever; // next expiration while enabled and no signal pending
    bool pending_ = false;
    uint64_t signal_expiration_ = 0;
};

} // namespace halcyon::vmm::hyperv
