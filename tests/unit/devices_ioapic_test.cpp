#include "devices_test_support.hpp"
#include "vmm/worker/devices/io_apic.hpp"

#include <gtest/gtest.h>

namespace halcyon::worker {
namespace {

using testing::RecordingMsiTarget;

constexpr uint64_t kMasked = 1ull << 16;
constexpr uint64_t kLevel = 1ull << 15;
constexpr uint64_t kRemoteIrr = 1ull << 14;
constexpr uint64_t kActiveLow = 1ull << 13;
constexpr uint64_t kLogical = 1ull << 11;

class DevicesIoApicTest : public ::testing::Test {
protected:
    uint32_t read_register(uint8_t index) {
        io_apic.mmio_write(IoApic::kRegisterSelect, 4, index);
        return static_cast<uint32_t>(io_apic.mmio_read(IoApic::kWindow, 4));
    }
    void write_register(uint8_t index, uint32_t value) {
        io_apic.mmio_write(IoApic::kRegisterSelect, 4, index);
        io_apic.mmio_write(IoApic::kWindow, 4, value);
    }
    // As Linux does it: high dword (destination) first, then the low dword.
    void program(unsigned pin, uint64_t entry) {
        write_register(static_cast<uint8_t>(0x11 + 2 * pin), static_cast<uint32_t>(entry >> 32));
        write_register(static_cast<uint8_t>(0x10 + 2 * pin), static_cast<uint32_t>(entry));
    }

    RecordingMsiTarget target;
    IoApic io_apic{3, target};
};

TEST_F(DevicesIoApicTest, ResetStateIdVersionAndMaskedEntries) {
    EXPECT_EQ(read_register(0x00), 3u << 24);
    EXPECT_EQ(read_register(0x01), 0x0017'0011u);
    EXPECT_EQ(read_register(0x02), 3u << 24);
    for (unsigned pin = 0; pin < IoApic::kPins; ++pin) {
        EXPECT_EQ(read_register(static_cast<uint8_t>(0x10 + 2 * pin)), kMasked) << pin;
        EXPECT_EQ(read_register(static_cast<uint8_t>(0x11 + 2 * pin)), 0u) << pin;
    }
    EXPECT_EQ(read_register(0x40), 0u); // past the last entry
    // Every pin idle: nothing was delivered, not even for the active-low SCI wire.
    EXPECT_TRUE(target.messages.empty());
}

TEST_F(DevicesIoApicTest, RegisterSelectReadsBackAndNarrowAccessesWork) {
    io_apic.mmio_write(IoApic::kRegisterSelect, 1, 0x12);
    EXPECT_EQ(io_apic.mmio_read(IoApic::kRegisterSelect, 4), 0x12u);
    io_apic.mmio_write(IoApic::kWindow, 4, 0x0001'2345);
    EXPECT_EQ(io_apic.mmio_read(IoApic::kWindow, 1), 0x45u);
    EXPECT_EQ(io_apic.mmio_read(IoApic::kWindow + 1, 1), 0x23u);
    io_apic.mmio_write(IoApic::kWindow, 1, 0x99); // replaces the vector byte only
    EXPECT_EQ(read_register(0x12), 0x0001'2399u);
    write_register(0x00, 0x0F00'0000);
    EXPECT_EQ(read_register(0x00), 0x0F00'0000u);
    write_register(0x01, 0); // read-only
    EXPECT_EQ(read_register(0x01), 0x0017'0011u);
}

TEST_F(DevicesIoApicTest, ReadOnlyBitsOfAnEntryIgnoreWrites) {
    write_register(0x14, 0xFFFF'FFFF);
    write_register(0x15, 0xFFFF'FFFF);
    // Delivery status (12) and remote IRR (14) stay clear; reserved bits read 0.
    EXPECT_EQ(read_register(0x14), 0x0001'AFFFu);
    EXPECT_EQ(read_register(0x15), 0xFF00'0000u);
}

TEST_F(DevicesIoApicTest, EdgeEntryDeliversOnAssertingEdgesOnly) {
    program(2, 0x30 | (uint64_t{1} << 56));
    InterruptLine& line = io_apic.line(2);
    line.set_level(true);
    ASSERT_EQ(target.messages.size(), 1u);
    const InterruptMessage& message = target.messages[0];
    EXPECT_EQ(message.vector, 0x30);
    EXPECT_EQ(message.destination, 1u);
    EXPECT_FALSE(message.logical);
    EXPECT_EQ(message.delivery_mode, delivery_mode::kFixed);
    EXPECT_FALSE(message.level_triggered);
    line.set_level(true); // still high: no new edge
    EXPECT_EQ(target.messages.size(), 1u);
    line.set_level(false);
    EXPECT_EQ(target.messages.size(), 1u);
    line.set_level(true);
    EXPECT_EQ(target.messages.size(), 2u);
    // Edge entries have no remote IRR.
    EXPECT_EQ(io_apic.redirection_entry(2) & kRemoteIrr, 0u);
}

TEST_F(DevicesIoApicTest, MaskedEdgeIsLostEvenWhenUnmaskedWhileHigh) {
    program(4, 0x31 | kMasked);
    io_apic.line(4).set_level(true);
    program(4, 0x31);
    EXPECT_TRUE(target.messages.empty());
    io_apic.line(4).set_level(false);
    io_apic.line(4).set_level(true);
    EXPECT_EQ(target.messages.size(), 1u);
}

TEST_F(DevicesIoApicTest, MessageCarriesLogicalModeDeliveryModeAndDestination) {
    program(5, 0x55 | kLogical | (uint64_t{delivery_mode::kLowestPriority} << 8) |
                   (uint64_t{0xA5} << 56));
    io_apic.set_irq(5, true);
    ASSERT_EQ(target.messages.size(), 1u);
    EXPECT_TRUE(target.messages[0].logical);
    EXPECT_EQ(target.messages[0].delivery_mode, delivery_mode::kLowestPriority);
    EXPECT_EQ(target.messages[0].destination, 0xA5u);
}

TEST_F(DevicesIoApicTest, ActiveLowLevelPinUsesRemoteIrrUntilEoi) {
    // The SCI: level, active low, as the MADT override says.
    program(9, 0x41 | kLevel | kActiveLow);
    EXPECT_TRUE(target.messages.empty()); // idle wire is high: not asserted
    InterruptLine& sci = io_apic.line(9);
    sci.set_level(true); // the device asserts: the wire goes low
    ASSERT_EQ(target.messages.size(), 1u);
    EXPECT_TRUE(target.messages[0].level_triggered);
    EXPECT_NE(io_apic.redirection_entry(9) & kRemoteIrr, 0u);
    sci.set_level(true);
    EXPECT_EQ(target.messages.size(), 1u); // remote IRR holds further deliveries
    io_apic.end_of_interrupt(0x42);        // another vector: no effect
    EXPECT_EQ(target.messages.size(), 1u);
    io_apic.end_of_interrupt(0x41); // still asserted: delivered again
    EXPECT_EQ(target.messages.size(), 2u);
    EXPECT_NE(io_apic.redirection_entry(9) & kRemoteIrr, 0u);
    sci.set_level(false);
    io_apic.end_of_interrupt(0x41);
    EXPECT_EQ(target.messages.size(), 2u);
    EXPECT_EQ(io_apic.redirection_entry(9) & kRemoteIrr, 0u);
}

TEST_F(DevicesIoApicTest, EoiRegisterClearsRemoteIrr) {
    program(10, 0x62 | kLevel);
    io_apic.set_irq(10, true);
    ASSERT_EQ(target.messages.size(), 1u);
    io_apic.set_irq(10, false);
    io_apic.mmio_write(IoApic::kEoi, 4, 0x62);
    EXPECT_EQ(io_apic.redirection_entry(10) & kRemoteIrr, 0u);
    io_apic.set_irq(10, true);
    EXPECT_EQ(target.messages.size(), 2u);
}

TEST_F(DevicesIoApicTest, SwitchingToEdgeAndBackClearsRemoteIrrAndRedelivers) {
    program(11, 0x70 | kLevel);
    io_apic.set_irq(11, true);
    ASSERT_EQ(target.messages.size(), 1u);
    // Linux's EOI for IOAPICs without an EOI register: mask + edge, then restore.
    program(11, 0x70 | kMasked);
    EXPECT_EQ(io_apic.redirection_entry(11) & kRemoteIrr, 0u);
    program(11, 0x70 | kLevel);
    EXPECT_EQ(target.messages.size(), 2u); // still asserted
}

TEST_F(DevicesIoApicTest, UnmaskingAnAssertedLevelPinDelivers) {
    program(12, 0x80 | kLevel | kMasked);
    io_apic.set_irq(12, true);
    EXPECT_TRUE(target.messages.empty());
    program(12, 0x80 | kLevel);
    EXPECT_EQ(target.messages.size(), 1u);
}

TEST_F(DevicesIoApicTest, WrongPolarityOnAnActiveLowWireStorms) {
    // A guest that ignores the MADT and programs the SCI pin active high sees the idle
    // (high) wire as asserted, as on hardware.
    program(9, 0x41 | kLevel);
    EXPECT_EQ(target.messages.size(), 1u);
}

TEST_F(DevicesIoApicTest, OutOfRangePinsAreIgnored) {
    io_apic.set_irq(24, true);
    io_apic.set_irq(1000, true);
    EXPECT_TRUE(target.messages.empty());
}

} // namespace
} // namespace halcyon::worker
