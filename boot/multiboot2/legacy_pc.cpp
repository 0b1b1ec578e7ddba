#include "boot/multiboot2/legacy_pc.hpp"

#include "boot/common/cpu.hpp"

namespace halcyon::multiboot2 {

namespace {

using loader::cpu::in8;
using loader::cpu::out8;

// 8259A programmable interrupt controllers.
constexpr uint16_t kMasterCommand = 0x20, kMasterData = 0x21;
constexpr uint16_t kSlaveCommand = 0xA0, kSlaveData = 0xA1;
constexpr uint8_t kIcw1Init = 0x11;     // edge triggered, cascade, ICW4 follows
constexpr uint8_t kIcw4Mode8086 = 0x01; // 8086 mode, normal EOI
constexpr uint8_t kMasterVectorBase = 0x20;
constexpr uint8_t kSlaveVectorBase = 0x28;
constexpr uint8_t kSlaveOnIrq2 = 1 << 2; // ICW3 of the master: a slave on IRQ2
constexpr uint8_t kSlaveIdentity = 2;    // ICW3 of the slave: its cascade identity

// 8254 programmable interval timer, channel 2.
constexpr uint16_t kPitChannel2 = 0x42, kPitCommand = 0x43, kSystemControlB = 0x61;
constexpr uint8_t kChannel2Gate = 1 << 0, kSpeakerEnable = 1 << 1, kChannel2Output = 1 << 5;
constexpr uint8_t kChannel2OneShotBinary = 0xB0; // channel 2, lobyte/hibyte, mode 0, binary
constexpr uint32_t kPitHz = 1'193'182;
constexpr uint32_t kChunkMilliseconds = 50; // 59659 ticks: fits the 16-bit counter

// Port 0x80 is the POST diagnostic port: a write takes about a microsecond and gives the slow
// 8259s time between initialization words.
void io_wait() {
    out8(0x80, 0);
}

void wait_chunk(uint32_t milliseconds) {
    uint16_t ticks = static_cast<uint16_t>(kPitHz / 1000 * milliseconds);
    // Gate low (counter stopped), speaker off; load the count; then gate high starts it. In
    // mode 0 the output goes high when the count reaches zero.
    uint8_t control = in8(kSystemControlB) & ~(kChannel2Gate | kSpeakerEnable);
    out8(kSystemControlB, control);
    out8(kPitCommand, kChannel2OneShotBinary);
    out8(kPitChannel2, static_cast<uint8_t>(ticks));
    out8(kPitChannel2, static_cast<uint8_t>(ticks >> 8));
    out8(kSystemControlB, control | kChannel2Gate);
    // Bounded even if the PIT is absent or broken: the count down takes ~60k port reads at most
    // on real hardware; give it far more before giving up.
    for (uint32_t spin = 0; spin < 2'000'000 && (in8(kSystemControlB) & kChannel2Output) == 0;
         ++spin) {
    }
    out8(kSystemControlB, control);
}

} // namespace

void quiet_legacy_interrupt_controllers() {
    out8(kMasterCommand, kIcw1Init);
    io_wait();
    out8(kSlaveCommand, kIcw1Init);
    io_wait();
    out8(kMasterData, kMasterVectorBase);
    io_wait();
    out8(kSlaveData, kSlaveVectorBase);
    io_wait();
    out8(kMasterData, kSlaveOnIrq2);
    io_wait();
    out8(kSlaveData, kSlaveIdentity);
    io_wait();
    out8(kMasterData, kIcw4Mode8086);
    io_wait();
    out8(kSlaveData, kIcw4Mode8086);
    io_wait();
    out8(kMasterData, 0xFF);
    out8(kSlaveData, 0xFF);
}

void delay_milliseconds(uint32_t milliseconds) {
    while (milliseconds > 0) {
        uint32_t chunk = milliseconds < kChunkMilliseconds ? milliseconds : kChunkMilliseconds;
        wait_chunk(chunk);
        milliseconds -= chunk;
    }
}

} // namespace halcyon::multiboot2
