#include "devices_test_support.hpp"
#include "vmm/worker/devices/acpi_pm.hpp"
#include "vmm/worker/devices/io_apic.hpp"
#include "vmm/worker/devices/platform.hpp"

#include <gtest/gtest.h>

namespace halcyon::worker {
namespace {

using testing::kTscHz;
using testing::RecordingLine;
using testing::RecordingMsiTarget;

constexpr uint64_t kStart = 5'000'000'000;

class DevicesAcpiPmTest : public ::testing::Test {
protected:
    uint32_t in(uint16_t port, uint8_t size) { return pm.read(port, size, now); }
    void out(uint16_t port, uint8_t size, uint32_t value) { pm.write(port, size, value, now); }

    uint64_t now = kStart;
    RecordingLine sci;
    AcpiPm pm{kTscHz, kStart, sci};
};

TEST_F(DevicesAcpiPmTest, PmTimerRunsAt3579545Hz) {
    const uint32_t start = in(0x608, 4);
    EXPECT_EQ(start, 0u);
    now += kTscHz;
    EXPECT_EQ(in(0x608, 4) - start, 3'579'545u);
    now += kTscHz / 1000;
    EXPECT_EQ(in(0x608, 4), 3'579'545u + 3'579u);
    // Byte and word reads see the same counter.
    const uint32_t value = in(0x608, 4);
    EXPECT_EQ(in(0x608, 1) | in(0x609, 1) << 8 | in(0x60A, 2) << 16, value);
    // 32 bits: it wraps after 2^32 ticks (about 20 minutes).
    now = kStart + TickConverter(kTscHz, platform::kPmTimerHz).cycles_for(1ull << 32) + kTscHz;
    EXPECT_EQ(in(0x608, 4), 3'579'545u);
}

TEST_F(DevicesAcpiPmTest, OddTscFrequenciesKeepTheRate) {
    for (const uint64_t tsc_hz : testing::kOddTscHz) {
        RecordingLine line;
        AcpiPm odd(tsc_hz, 0, line);
        EXPECT_EQ(odd.read(0x608, 4, 10 * tsc_hz - 1), 35'795'449u);
        EXPECT_EQ(odd.read(0x608, 4, 10 * tsc_hz), 35'795'450u);
    }
}

TEST_F(DevicesAcpiPmTest, PmTimerNeverStepsBack) {
    now += kTscHz;
    const uint32_t later = in(0x608, 4);
    now -= kTscHz / 1000; // a vCPU whose TSC reading is a little older
    EXPECT_EQ(in(0x608, 4), later);
    now += kTscHz / 500;
    EXPECT_GT(in(0x608, 4), later);
}

TEST_F(DevicesAcpiPmTest, SciEnableAlwaysReadsSet) {
    EXPECT_EQ(in(0x604, 2), 1u);
    out(0x604, 2, 0);
    EXPECT_EQ(in(0x604, 2), 1u);
}

TEST_F(DevicesAcpiPmTest, SleepTypeFiveWithSleepEnableRequestsPoweroff) {
    // ACPICA's sequence: SLP_TYP first, then SLP_TYP | SLP_EN.
    out(0x604, 2, 5u << 10 | 1);
    EXPECT_FALSE(pm.poweroff_requested());
    EXPECT_EQ(in(0x604, 2), (5u << 10) | 1u);
    out(0x604, 2, 5u << 10 | 1u << 13 | 1);
    EXPECT_TRUE(pm.poweroff_requested());
    EXPECT_EQ(in(0x604, 2) & (1u << 13), 0u); // SLP_EN is write-only
}

TEST_F(DevicesAcpiPmTest, OtherSleepTypesAreIgnored) {
    out(0x604, 2, 1u << 10 | 1u << 13);
    out(0x604, 2, 0u << 10 | 1u << 13);
    EXPECT_FALSE(pm.poweroff_requested());
    // A byte write to the high half carries SLP_TYP and SLP_EN together.
    out(0x605, 1, (5u << 2) | (1u << 5));
    EXPECT_TRUE(pm.poweroff_requested());
}

TEST_F(DevicesAcpiPmTest, ResetRegisterWantsBitTwo) {
    out(0xCF9, 1, 0x02);
    EXPECT_FALSE(pm.reset_requested());
    EXPECT_EQ(in(0xCF9, 1), 0x02u);
    out(0xCF9, 1, 0x06); // the FADT's RESET_VALUE
    EXPECT_TRUE(pm.reset_requested());
    EXPECT_EQ(in(0xCF9, 1), 0x02u); // bit 2 does not stick
    AcpiPm full(kTscHz, kStart, sci);
    full.write(0xCF9, 1, 0x0E, kStart);
    EXPECT_TRUE(full.reset_requested());
    EXPECT_EQ(full.read(0xCF9, 1, kStart), 0x0Au);
}

TEST_F(DevicesAcpiPmTest, PowerButtonRaisesSciWhileEnabledAndSet) {
    pm.press_power_button();
    EXPECT_EQ(in(0x600, 2), 1u << 8);
    EXPECT_FALSE(sci.level); // not enabled yet
    out(0x602, 2, 1u << 8);
    EXPECT_TRUE(sci.level);
    EXPECT_EQ(in(0x602, 2), 1u << 8);
    out(0x600, 2, 1u << 0); // clearing another bit changes nothing
    EXPECT_TRUE(sci.level);
    out(0x600, 2, 1u << 8); // write 1 to clear
    EXPECT_FALSE(sci.level);
    EXPECT_EQ(in(0x600, 2), 0u);
    pm.press_power_button();
    EXPECT_TRUE(sci.level);
    out(0x602, 2, 0); // disabling drops the SCI but keeps the status
    EXPECT_FALSE(sci.level);
    EXPECT_EQ(in(0x600, 2), 1u << 8);
    EXPECT_EQ(sci.rising_edges, 2);
}

TEST_F(DevicesAcpiPmTest, TimerCarryRaisesSciWhenEnabled) {
    out(0x602, 2, 1); // TMR_EN
    const uint64_t carry = pm.next_deadline();
    const TickConverter converter(kTscHz, platform::kPmTimerHz);
    EXPECT_EQ(carry, kStart + converter.cycles_for(1ull << 31));
    pm.update(carry - 1);
    EXPECT_FALSE(sci.level);
    pm.update(carry);
    EXPECT_TRUE(sci.level);
    EXPECT_EQ(pm.next_deadline(), UINT64_MAX); // already pending
    now = carry + 10;
    out(0x600, 2, 1);
    EXPECT_FALSE(sci.level);
    EXPECT_EQ(pm.next_deadline(), kStart + converter.cycles_for(1ull << 32));
}

TEST_F(DevicesAcpiPmTest, SciReachesTheIoApicActiveLowLevelTriggered) {
    RecordingMsiTarget target;
    IoApic io_apic(1, target);
    AcpiPm acpi(kTscHz, kStart, io_apic.line(platform::kSciGsi));
    // Linux programs GSI 9 from the MADT override: level, active low, vector 0x29.
    io_apic.mmio_write(0x00, 4, 0x10 + 2 * platform::kSciGsi);
    io_apic.mmio_write(0x10, 4, 0x29 | 1u << 13 | 1u << 15);
    acpi.write(0x602, 2, 1u << 8, kStart);
    EXPECT_TRUE(target.messages.empty());
    acpi.press_power_button();
    ASSERT_EQ(target.messages.size(), 1u);
    EXPECT_EQ(target.messages[0].vector, 0x29);
    EXPECT_TRUE(target.messages[0].level_triggered);
    io_apic.end_of_interrupt(0x29); // the handler has not cleared the status yet
    EXPECT_EQ(target.messages.size(), 2u);
    acpi.write(0x600, 2, 1u << 8, kStart);
    io_apic.end_of_interrupt(0x29);
    EXPECT_EQ(target.messages.size(), 2u);
}

TEST_F(DevicesAcpiPmTest, ClaimsExactlyTheFadtPorts) {
    for (uint16_t port = 0x5F0; port < 0x620; ++port) {
        const bool expected = (port >= 0x600 && port < 0x606) || (port >= 0x608 && port < 0x60C);
        EXPECT_EQ(pm.claims(port), expected) << port;
    }
    EXPECT_TRUE(pm.claims(0xCF9));
    EXPECT_FALSE(pm.claims(0xCF8));
    EXPECT_FALSE(pm.claims(0xCFA));
}

} // namespace
} // namespace halcyon::worker
