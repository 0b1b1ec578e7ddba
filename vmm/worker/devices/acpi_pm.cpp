#include "vmm/worker/devices/acpi_pm.hpp"

#include "vmm/worker/devices/platform.hpp"
#include "vmm/worker/devices/port_bytes.hpp"

namespace halcyon::worker {
namespace {

constexpr uint16_t kStatusPort = platform::kPm1aEventBlock;
constexpr uint16_t kEnablePort = platform::kPm1aEventBlock + 2;
constexpr uint16_t kControlPort = platform::kPm1aControlBlock;
constexpr uint16_t kTimerPort = platform::kPmTimerBlock;

constexpr uint16_t kStatusWritable = 0x8731; // TMR, BM, GBL, PWRBTN, SLPBTN, RTC, WAK
constexpr uint16_t kEnableWritable = 0x0721; // TMR, GBL, PWRBTN, SLPBTN, RTC
constexpr uint16_t kSciSources = AcpiPm::kTimerStatus | AcpiPm::kGlobalStatus |
                                 AcpiPm::kPowerButtonStatus | AcpiPm::kSleepButtonStatus |
                                 AcpiPm::kRtcStatus;

constexpr uint16_t kControlSciEnable = 1u << 0;
constexpr uint16_t kControlBusMasterReload = 1u << 1;
constexpr unsigned kSleepTypeShift = 10;
constexpr uint16_t kSleepTypeMask = 7u << kSleepTypeShift;
constexpr uint16_t kSleepEnable = 1u << 13;

constexpr uint8_t kResetHard = 0x02;
constexpr uint8_t kResetCpu = 0x04;
constexpr uint8_t kResetFull = 0x08;

// TMR_STS sets each time bit 31 of the 32-bit timer (TMR_VAL_EXT) changes.
constexpr unsigned kTimerCarryShift = 31;

} // namespace

AcpiPm::AcpiPm(uint64_t tsc_hz, uint64_t now, InterruptLine& sci)
    : clock_(tsc_hz, platform::kPmTimerHz, now), sci_(&sci) {}

bool AcpiPm::claims(uint16_t port) const {
    return (port >= kStatusPort && port < kStatusPort + 4) ||
           (port >= kControlPort && port < kControlPort + 2) ||
           (port >= kTimerPort && port < kTimerPort + 4) || port == platform::kResetPort;
}

uint32_t AcpiPm::read(uint16_t port, uint8_t size, uint64_t now) {
    return read_port_bytes(*this, port, size, now);
}

void AcpiPm::write(uint16_t port, uint8_t size, uint32_t value, uint64_t now) {
    write_port_bytes(*this, port, size, value, now);
}

uint16_t AcpiPm::control() const {
    return control_ | kControlSciEnable;
}

uint8_t AcpiPm::read_byte(uint16_t port, uint64_t now) {
    settle_timer(now);
    update_sci();
    if (port == platform::kResetPort)
        return reset_control_;
    if (port >= kTimerPort && port < kTimerPort + 4)
        return static_cast<uint8_t>(pm_timer(now) >> (8 * (port - kTimerPort)));
    uint16_t value = 0;
    uint16_t base = 0;
    if (port < kEnablePort) {
        value = status_;
        base = kStatusPort;
    } else if (port < kControlPort) {
        value = enable_;
        base = kEnablePort;
    } else {
        value = control();
        base = kControlPort;
    }
    return static_cast<uint8_t>(value >> (8 * (port - base)));
}

void AcpiPm::write_byte(uint16_t port, uint8_t value, uint64_t now) {
    settle_timer(now);
    if (port == platform::kResetPort) {
        reset_control_ = value & (kResetHard | kResetFull);
        if (value & kResetCpu)
            reset_requested_ = true; // soft, hard and full resets all restart the VM
    } else if (port >= kStatusPort && port < kEnablePort) {
        const auto clear =
            static_cast<uint16_t>((value << (8 * (port - kStatusPort))) & kStatusWritable);
        if ((clear & kTimerStatus) && (status_ & kTimerStatus))
            timer_carries_seen_ = last_tick_ >> kTimerCarryShift;
        status_ &= static_cast<uint16_t>(~clear);
    } else if (port >= kEnablePort && port < kControlPort) {
        const unsigned shift = 8 * (port - kEnablePort);
        enable_ = static_cast<uint16_t>(((enable_ & ~(0xFFu << shift)) | (value << shift)) &
                                        kEnableWritable);
    } else if (port >= kControlPort && port < kControlPort + 2) {
        write_control_byte(port - kControlPort, value);
    }
    // The timer is read-only.
    update_sci();
}

void AcpiPm::write_control_byte(unsigned byte, uint8_t value) {
    const unsigned shift = 8 * byte;
    const uint16_t written = static_cast<uint16_t>(value << shift);
    const uint16_t kept = kControlBusMasterReload | kSleepTypeMask;
    const uint16_t mask = static_cast<uint16_t>(0xFFu << shift);
    control_ = static_cast<uint16_t>((control_ & ~mask) | (written & mask & kept));
    // SLP_EN is write-only and acts on the SLP_TYP written with it.
    if ((written & kSleepEnable) &&
        ((control_ & kSleepTypeMask) >> kSleepTypeShift) == platform::kSoftOffSleepType)
        poweroff_requested_ = true;
}

void AcpiPm::settle_timer(uint64_t now) {
    const uint64_t tick = clock_.tick(now);
    if (tick > last_tick_)
        last_tick_ = tick;
    if ((last_tick_ >> kTimerCarryShift) != timer_carries_seen_)
        status_ |= kTimerStatus;
}

uint64_t AcpiPm::next_deadline() const {
    if ((enable_ & kTimerStatus) == 0 || (status_ & kTimerStatus) != 0)
        return UINT64_MAX;
    return clock_.tsc_at((timer_carries_seen_ + 1) << kTimerCarryShift);
}

void AcpiPm::update(uint64_t now) {
    settle_timer(now);
    update_sci();
}

void AcpiPm::press_power_button() {
    status_ |= kPowerButtonStatus;
    update_sci();
}

void AcpiPm::update_sci() {
    const bool level = (status_ & enable_ & kSciSources) != 0; // SCI_EN is always set
    if (level == sci_level_)
        return;
    sci_level_ = level;
    sci_->set_level(level);
}

} // namespace halcyon::worker
