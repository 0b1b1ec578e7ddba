// The virtual local APIC of one Halcyon vCPU (xAPIC and x2APIC), as a pure state machine: no
// hardware access, no allocation, time given as TSC values. Intel SDM vol. 3 ch. 11 (APIC), the
// x2APIC specification, AMD APM vol. 2 ch. 16.
//
// What the partition calls, and when:
//   construction   one VirtualLapic per vCPU: APIC ID = vCPU index, vCPU 0 is the BSP. The BSP
//                  starts running; every AP starts in RunState::wait_for_startup (start_running()
//                  when a guest starts all vCPUs at its entry point instead).
//   RDMSR/WRMSR    if claims_msr(msr): read_msr / write_msr (IA32_APIC_BASE 0x1B, TSC_DEADLINE
//                  0x6E0, x2APIC 0x800-0x8FF). false -> inject #GP(0).
//   MMIO           guest accesses to 0xFEE00000-0xFEE00FFF: mmio_read / mmio_write with the
//                  page offset (32-bit aligned accesses; the emulator splits wider ones).
//   LapicBus       send_ipi: route the Ipi with VirtualLapic::route over all vCPUs' LAPICs and
//                  call deliver() on each target (then kick the target vCPUs out of HLT/guest
//                  mode). end_of_interrupt: tell the IOAPIC (remote IRR).
//   IOAPIC         builds an Ipi from a redirection entry and routes/delivers it the same way.
//   before entry   update(now); then take_startup (wait_for_startup vCPUs: real mode at
//                  CS = vector << 8, IP = 0), take_nmi (inject NMI), pending_vector() >= 0 and
//                  guest interruptible -> inject it and acknowledge(vector); otherwise request an
//                  interrupt window. A vCPU in wait_for_startup does not run.
//   HLT / idle     sleep until timer_deadline() (a TSC; UINT64_MAX = no timer event) or a
//                  delivery from another vCPU.
//   CR8            task_priority() / set_task_priority() (CR8 = TPR[7:4]).
// Every call that takes `now` first brings the timer up to date, so a late update() only delays
// the interrupt, never loses it. Not thread-safe: the partition serializes access per LAPIC
// (deliver() from another vCPU included).
//
// Modelling choices (see the tests in tests/unit/vlapic_*_test.cpp):
//   - 6 LVT entries (timer, thermal, perfmon, LINT0, LINT1, error; no CMCI): version 0x00050014.
//     Nothing drives thermal, perfmon or the LINT pins (the 8259 never delivers); LINT1's NMI
//     wiring is therefore not modelled. The error LVT fires on every new ESR error.
//   - No EOI-broadcast suppression: version bit 24 is clear and SVR bit 12 is reserved, so a
//     level-triggered EOI always reaches the IOAPIC (it needs no directed-EOI register).
//   - The APIC ID register is read-only (as on Nehalem and later); the base stays 0xFEE00000
//     (a write moving it is refused with #GP).
//   - A software-disabled APIC (SVR bit 8 clear) keeps its IRR/ISR and still delivers them, but
//     accepts no new fixed / lowest-priority interrupts (AMD APM 16.4, KVM); NMI, INIT and SIPI
//     are accepted; all LVT mask bits are forced on.
//   - INIT (also to the BSP: Halcyon guests have no firmware at the reset vector, so the BSP
//     waits for a SIPI like an AP, unlike real hardware) resets the registers except the ID and
//     IA32_APIC_BASE (x2APIC mode survives, as the SDM says) and clears pending NMI/SIPI.
//   - Sending lowest-priority IPIs is supported (no "redirectable IPI" error); the target is the
//     matching LAPIC with the lowest arbitration priority, then the lowest APIC ID. Sending
//     a fixed or lowest-priority IPI with a vector below 16 sets ESR "send illegal vector" and
//     sends nothing; reserved delivery modes (3, 7), INIT level de-assert, and the SDM's invalid
//     shorthand combinations (self + non-fixed, all-including-self + startup) send nothing.
//     SMI is routed but ignored by deliver().
//   - Delivery status is always idle (delivery is synchronous); no spurious interrupts are ever
//     generated (injection is synchronous with acknowledge()).
//   - Timer mode 3 (reserved) is accepted and leaves the timer inert.
//   - In x2APIC mode, MMIO reads 0 and ignores writes (like a globally disabled xAPIC); so does
//     MMIO while the APIC is globally disabled. Reserved xAPIC registers in 0x000-0x3F0 set ESR
//     "illegal register address"; offsets not on a 16-byte boundary and above 0x3F0 read 0.
#pragma once

#include "vmm/lapic/apic_timer.hpp"
#include "vmm/lapic/ipi.hpp"
#include "vmm/lapic/registers.hpp"
#include "vmm/lapic/vector_set.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vmm::lapic {

class VirtualLapic {
public:
    static constexpr uint64_t kDefaultTimerHz = 100'000'000;
    static constexpr uint64_t kMmioBase = base::default_address;
    static constexpr uint64_t kMmioSize = 0x1000;
    static constexpr uint64_t kNoDeadline = ApicTimer::kNever;

    enum class RunState : uint8_t { running, wait_for_startup };
    enum class Mode : uint8_t { disabled, xapic, x2apic };

    // apic_id: the vCPU index (0 = BSP). tsc_hz: guest TSC frequency. timer_hz: the LAPIC timer
    // input clock before the divider.
    VirtualLapic(uint32_t apic_id, uint64_t tsc_hz, uint64_t timer_hz = kDefaultTimerHz);

    // --- identity and mode ---
    [[nodiscard]] uint32_t apic_id() const { return apic_id_; }
    [[nodiscard]] bool is_bsp() const { return apic_id_ == 0; }
    [[nodiscard]] Mode mode() const { return mode_; }
    [[nodiscard]] bool software_enabled() const { return (svr_ & svr::software_enable) != 0; }
    [[nodiscard]] uint64_t apic_base() const;

    // --- MSRs ---
    // True for the MSRs read_msr/write_msr handle (whatever the current mode).
    [[nodiscard]] static bool claims_msr(uint32_t msr);
    // false = #GP: x2APIC MSRs outside x2APIC mode, unimplemented ones, reads of write-only and
    // writes of read-only registers, reserved bits, non-zero EOI/ESR writes, illegal
    // IA32_APIC_BASE values or transitions.
    [[nodiscard]] bool read_msr(uint32_t msr, uint64_t now, uint64_t& value);
    [[nodiscard]] bool write_msr(uint32_t msr, uint64_t value, uint64_t now, LapicBus& bus);

    // --- xAPIC MMIO (offset in the 4 KiB page, 32-bit aligned) ---
    [[nodiscard]] uint32_t mmio_read(uint32_t offset, uint64_t now);
    void mmio_write(uint32_t offset, uint32_t value, uint64_t now, LapicBus& bus);

    // --- receiving interrupts ---
    // A fixed (or lowest-priority) interrupt: IRR set, TMR = level_triggered. Vectors 0-15 set
    // ESR "receive illegal vector" instead. Dropped while disabled (globally or by software).
    void accept(uint8_t vector, bool level_triggered);
    void accept_nmi();
    [[nodiscard]] bool take_nmi();
    [[nodiscard]] bool nmi_pending() const { return nmi_pending_; }
    // INIT: register reset, RunState::wait_for_startup. SIPI: recorded once while waiting.
    void accept_init();
    void accept_startup(uint8_t vector);
    [[nodiscard]] RunState run_state() const { return run_state_; }
    // Puts an AP in RunState::running without INIT/SIPI, for guests whose vCPUs all start at the
    // entry point (flat test guests).
    void start_running();
    // True once per accepted SIPI: `vector` = start page; the vCPU is running from then on.
    [[nodiscard]] bool take_startup(uint8_t& vector);
    // Dispatches a routed message by delivery mode (fixed, lowest priority, NMI, INIT, startup).
    void deliver(const Ipi& ipi);

    // --- routing ---
    // Whether this LAPIC is addressed by `destination` (physical ID / broadcast, or logical:
    // xAPIC flat or cluster model per DFR, x2APIC cluster). Never true while globally disabled.
    [[nodiscard]] bool matches(uint32_t destination, bool logical) const;
    // The LAPICs that receive `ipi` among `lapics` (null entries are skipped), written to
    // `targets` (room for lapics.size() pointers); returns how many. Shorthands use
    // ipi.source_apic_id; lowest priority picks one target (see the header comment).
    [[nodiscard]] static size_t route(const Ipi& ipi, std::span<VirtualLapic* const> lapics,
                                      std::span<VirtualLapic*> targets);

    // --- the CPU side ---
    // Highest IRR vector whose priority class (vector >> 4) is above PPR's class, or -1.
    [[nodiscard]] int pending_vector() const;
    // The partition injected `vector` (= pending_vector()): IRR -> ISR, PPR raised - except for
    // an edge-triggered AutoEOI vector, which leaves the IRR without entering the ISR.
    void acknowledge(uint8_t vector);
    // Vectors whose interrupts end as they are delivered (the Hyper-V SynIC's AutoEOI SINTs):
    // the guest sends no EOI for them. Configuration of the virtual processor, not an APIC
    // register: INIT and global disable keep it. A level-triggered interrupt on such a vector
    // (TMR set) still goes through the ISR, so the IOAPIC sees its EOI.
    void set_auto_eoi_vectors(const VectorSet& vectors) { auto_eoi_ = vectors; }
    [[nodiscard]] const VectorSet& auto_eoi_vectors() const { return auto_eoi_; }
    [[nodiscard]] uint8_t task_priority() const { return tpr_; }
    void set_task_priority(uint8_t value) { tpr_ = value; }
    [[nodiscard]] uint8_t processor_priority() const;
    [[nodiscard]] uint8_t arbitration_priority() const;
    // Register views for tests and diagnostics.
    [[nodiscard]] const VectorSet& irr() const { return irr_; }
    [[nodiscard]] const VectorSet& isr() const { return isr_; }
    [[nodiscard]] const VectorSet& tmr() const { return tmr_; }

    // --- timer ---
    // TSC at which update() has something to do, kNoDeadline if nothing (disarmed or masked: a
    // masked timer keeps counting, its expiries are processed lazily by the next call with `now`).
    [[nodiscard]] uint64_t timer_deadline() const;
    // Fires the timer if due: IRR of the LVT timer vector unless masked.
    void update(uint64_t now);

private:
    // Power-up register state (also after INIT and global disable), ID and mode untouched.
    void reset_registers();
    [[nodiscard]] bool write_apic_base(uint64_t value);
    void record_error(uint32_t bits);
    void raise_local(Lvt entry);
    void end_of_interrupt(LapicBus& bus);
    void send(uint64_t icr_value, LapicBus& bus);
    void write_svr(uint32_t value);
    void write_lvt(Lvt entry, uint32_t value, uint64_t now);
    void write_esr();
    [[nodiscard]] uint32_t lvt(Lvt entry) const { return lvt_[static_cast<unsigned>(entry)]; }
    [[nodiscard]] uint32_t logical_destination() const;
    [[nodiscard]] bool x2apic() const { return mode_ == Mode::x2apic; }
    // MSR number -> register access in x2APIC mode.
    [[nodiscard]] bool read_x2apic(uint32_t offset, uint64_t now, uint64_t& value);
    [[nodiscard]] bool write_x2apic(uint32_t offset, uint64_t value, uint64_t now, LapicBus& bus);
    // Registers that read the same in both modes (offset in xAPIC terms); false if none.
    [[nodiscard]] bool read_common(uint32_t offset, uint64_t now, uint32_t& value) const;

    uint32_t apic_id_;
    Mode mode_ = Mode::xapic;
    RunState run_state_;

    uint8_t tpr_ = 0;
    uint32_t ldr_ = 0; // xAPIC only (x2APIC derives it from the ID)
    uint32_t dfr_ = dfr::reset_value;
    uint32_t svr_ = svr::reset_value;
    VectorSet irr_, isr_, tmr_;
    uint32_t esr_ = 0;         // as last latched by an ESR write
    uint32_t esr_pending_ = 0; // errors since then
    uint64_t icr_ = 0;         // xAPIC: (high << 32) | low
    uint32_t lvt_[kLvtCount];
    ApicTimer timer_;
    VectorSet auto_eoi_;

    bool nmi_pending_ = false;
    bool startup_pending_ = false;
    uint8_t startup_vector_ = 0;
};

} // namespace halcyon::vmm::lapic
