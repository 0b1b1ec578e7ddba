// ACPI fixed hardware (ACPI 6.5, chapter 4.8) at the platform's FADT ports, plus the PIIX/ICH
// reset control register at 0xCF9 that the FADT's RESET_REG points to.
//
//   PM1a_EVT_BLK 0x600: PM1_STS (16 bits, write 1 to clear), PM1_EN (16 bits)
//   PM1a_CNT_BLK 0x604: PM1_CNT; SCI_EN reads 1 (no SMI_CMD: ACPI mode is always on), a write
//                       of SLP_EN with SLP_TYP 5 (the DSDT's _S5) requests power-off
//   PM_TMR_BLK   0x608: the 32-bit PM timer at 3.579545 MHz, derived from the TSC
//   0xCF9             : bit 2 requests a reset; bits 1 (hard) and 3 (full) are kept and read
//                       back, and whatever they say (0x06 hard, 0x0E full) it is a reset for us
//
// The SCI (level, IRQ 9) is asserted while an enabled status bit is set: the power button
// (press_power_button), the timer carry (TMR_STS when bit 31 of the timer flips) and the
// global lock release (GBL_STS, never set: there is no firmware to release it). Other sleep
// states than S5 are not implemented; their SLP_EN writes are ignored.
#pragma once

#include "vmm/worker/devices/interrupt_line.hpp"
#include "vmm/worker/devices/tick_converter.hpp"

#include <stdint.h>

namespace halcyon::worker {

class AcpiPm {
public:
    // Status / enable bits (PM1_STS, PM1_EN).
    static constexpr uint16_t kTimerStatus = 1u << 0;
    static constexpr uint16_t kGlobalStatus = 1u << 5;
    static constexpr uint16_t kPowerButtonStatus = 1u << 8;
    static constexpr uint16_t kSleepButtonStatus = 1u << 9;
    static constexpr uint16_t kRtcStatus = 1u << 10;
    static constexpr uint16_t kWakeStatus = 1u << 15;

    AcpiPm(uint64_t tsc_hz, uint64_t now, InterruptLine& sci);

    [[nodiscard]] bool claims(uint16_t port) const;
    uint32_t read(uint16_t port, uint8_t size, uint64_t now);
    void write(uint16_t port, uint8_t size, uint32_t value, uint64_t now);
    [[nodiscard]] uint8_t read_byte(uint16_t port, uint64_t now);
    void write_byte(uint16_t port, uint8_t value, uint64_t now);

    // TSC at which TMR_STS next raises the SCI (UINT64_MAX: not enabled, or already set).
    [[nodiscard]] uint64_t next_deadline() const;
    void update(uint64_t now);

    // The host's power button: PWRBTN_STS, and the SCI if the guest enabled it.
    void press_power_button();

    [[nodiscard]] bool poweroff_requested() const { return poweroff_requested_; }
    [[nodiscard]] bool reset_requested() const { return reset_requested_; }
    // The timer never steps back, even if `now` does (vCPUs on different CPUs may present
    // TSC readings slightly out of order): a clocksource would see a backwards step as a wrap.
    [[nodiscard]] uint32_t pm_timer(uint64_t now) const {
        const uint64_t tick = clock_.tick(now);
        return static_cast<uint32_t>(tick > last_tick_ ? tick : last_tick_);
    }
    [[nodiscard]] uint16_t status() const { return status_; }
    [[nodiscard]] uint16_t enable() const { return enable_; }

private:
    void settle_timer(uint64_t now);
    void write_control_byte(unsigned byte, uint8_t value);
    void update_sci();
    [[nodiscard]] uint16_t control() const;

    DeviceClock clock_;
    InterruptLine* sci_;
    bool sci_level_ = false;
    uint16_t status_ = 0;
    uint16_t enable_ = 0;
    uint16_t control_ = 0; // PM1_CNT bits that read back (BM_RLD, SLP_TYP)
    uint64_t last_tick_ = 0;
    uint64_t timer_carries_seen_ = 0; // bit-31 flips of the PM timer acknowledged so far
    uint8_t reset_control_ = 0;       // 0xCF9 bits 1 and 3
    bool poweroff_requested_ = false;
    bool reset_requested_ = false;
};

} // namespace halcyon::worker
