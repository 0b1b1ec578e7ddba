#include "vmm/worker/devices/pit8254.hpp"

#include "vmm/worker/devices/platform.hpp"
#include "vmm/worker/devices/port_bytes.hpp"

namespace halcyon::worker {
namespace {

constexpr uint8_t kReadBack = 3; // control word SC field
constexpr uint8_t kReadBackNoCount = 0x20;
constexpr uint8_t kReadBackNoStatus = 0x10;
constexpr uint8_t kPortBGate2 = 0x01;
constexpr uint8_t kPortBWritable = 0x0F;
constexpr uint8_t kPortBRefresh = 0x10;
constexpr uint8_t kPortBOut2 = 0x20;
constexpr uint64_t kRefreshHalfPeriodTicks = 18; // 15.09 us

} // namespace

Pit8254::Pit8254(uint64_t tsc_hz, uint64_t now, InterruptLine& irq0)
    : clock_(tsc_hz, platform::kPitHz, now), irq0_(&irq0) {}

uint32_t Pit8254::read(uint16_t port, uint8_t size, uint64_t now) {
    return read_port_bytes(*this, port, size, now);
}

void Pit8254::write(uint16_t port, uint8_t size, uint32_t value, uint64_t now) {
    write_port_bytes(*this, port, size, value, now);
}

uint64_t Pit8254::monotonic_tick(uint64_t now) {
    const uint64_t tick = clock_.tick(now);
    if (tick > last_tick_)
        last_tick_ = tick;
    return last_tick_;
}

uint8_t Pit8254::read_byte(uint16_t port, uint64_t now) {
    const uint64_t t = monotonic_tick(now);
    if (port == kPortB) {
        const bool refresh = (t / kRefreshHalfPeriodTicks) % 2 != 0;
        return static_cast<uint8_t>((port_b_ & kPortBWritable) | (refresh ? kPortBRefresh : 0) |
                                    (channels_[2].out(t) ? kPortBOut2 : 0));
    }
    if (port == kControl)
        return 0xFF; // the control word register is write-only
    const uint8_t value = channels_[port - kChannel0].read(t);
    sync_irq0(t);
    return value;
}

void Pit8254::write_byte(uint16_t port, uint8_t value, uint64_t now) {
    const uint64_t t = monotonic_tick(now);
    if (port == kPortB) {
        port_b_ = value & kPortBWritable;
        channels_[2].set_gate((value & kPortBGate2) != 0, t);
        return;
    }
    if (port == kControl)
        write_control(value, t);
    else
        channels_[port - kChannel0].write(value, t);
    sync_irq0(t);
}

void Pit8254::write_control(uint8_t value, uint64_t tick) {
    const uint8_t select = value >> 6;
    if (select == kReadBack) {
        for (unsigned index = 0; index < 3; ++index) {
            if ((value & (2u << index)) == 0)
                continue;
            if ((value & kReadBackNoStatus) == 0)
                channels_[index].latch_status(tick);
            if ((value & kReadBackNoCount) == 0)
                channels_[index].latch_count(tick);
        }
        return;
    }
    if ((value & 0x30) == 0)
        channels_[select].latch_count(tick);
    else
        channels_[select].program(value);
}

void Pit8254::sync_irq0(uint64_t tick) {
    const PitChannel& channel = channels_[0];
    if (channel.next_rising_edge(irq0_edges_until_) <= tick) {
        // One pulse for every due edge (coalesced): low first if the wire is still high.
        if (irq0_level_)
            irq0_->set_level(false);
        irq0_->set_level(true);
        irq0_level_ = true;
        irq0_edges_until_ = tick;
    }
    // Then follow OUT (low phase of mode 3, mode 0 counting, a new control word).
    const bool level = channel.out(tick);
    if (level != irq0_level_) {
        irq0_level_ = level;
        irq0_->set_level(level);
    }
    if (irq0_edges_until_ < tick)
        irq0_edges_until_ = tick; // an edge from following OUT must not be pulsed again
}

uint64_t Pit8254::next_deadline() const {
    const uint64_t edge = channels_[0].next_rising_edge(irq0_edges_until_);
    return edge == PitChannel::kNever ? UINT64_MAX : clock_.tsc_at(edge);
}

void Pit8254::update(uint64_t now) {
    sync_irq0(monotonic_tick(now));
}

} // namespace halcyon::worker
