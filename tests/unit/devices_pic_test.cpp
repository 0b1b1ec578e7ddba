#include "vmm/worker/devices/pic8259.hpp"

#include <gtest/gtest.h>

namespace halcyon::worker {
namespace {

class DevicesPicTest : public ::testing::Test {
protected:
    void out(uint8_t value, uint16_t port) { pic.write(port, 1, value, 0); }
    uint8_t in(uint16_t port) { return static_cast<uint8_t>(pic.read(port, 1, 0)); }

    // Linux's init_8259A(auto_eoi = 0).
    void init_like_linux() {
        out(0xff, 0x21);
        out(0x11, 0x20); // ICW1: edge, cascade, ICW4 follows
        out(0x30, 0x21); // ICW2: vectors 0x30-0x37
        out(0x04, 0x21); // ICW3: slave on IR2
        out(0x01, 0x21); // ICW4: 8086 mode, normal EOI
        out(0x11, 0xA0);
        out(0x38, 0xA1);
        out(0x02, 0xA1); // slave identity 2
        out(0x01, 0xA1);
        out(0xfb, 0x21); // everything masked but the cascade
        out(0xff, 0xA1);
    }

    DualPic8259 pic;
};

TEST_F(DevicesPicTest, ProbeReadsTheMaskBack) {
    // Linux's probe_8259A.
    out(0xff, 0xA1);
    out(0xfb, 0x21);
    EXPECT_EQ(in(0x21), 0xfb);
    EXPECT_EQ(in(0xA1), 0xff);
}

TEST_F(DevicesPicTest, InitialisationSequenceSetsVectorsAndMasks) {
    init_like_linux();
    EXPECT_TRUE(pic.master().initialized());
    EXPECT_TRUE(pic.slave().initialized());
    EXPECT_EQ(pic.master().vector_base(), 0x30);
    EXPECT_EQ(pic.slave().vector_base(), 0x38);
    EXPECT_EQ(in(0x21), 0xfb);
    EXPECT_EQ(in(0xA1), 0xff);
    EXPECT_FALSE(pic.master().auto_eoi());
    // ICW1 clears the mask; without ICW4 and in single mode the sequence is ICW1, ICW2 only.
    out(0x13, 0x20); // single, ICW4 needed
    EXPECT_EQ(in(0x21), 0x00);
    out(0x08, 0x21);
    out(0x03, 0x21); // ICW4 with auto-EOI (no ICW3 in single mode)
    EXPECT_TRUE(pic.master().auto_eoi());
    out(0x5a, 0x21); // now OCW1
    EXPECT_EQ(in(0x21), 0x5a);
}

TEST_F(DevicesPicTest, Ocw3SelectsIrrOrIsrAndPollAcknowledges) {
    init_like_linux();
    out(0x00, 0x21);
    pic.set_irq(1, true);
    pic.set_irq(5, true);
    EXPECT_EQ(in(0x20), 0x22); // IRR is read by default
    out(0x0B, 0x20);           // OCW3: read ISR
    EXPECT_EQ(in(0x20), 0x00);
    out(0x0C, 0x20); // OCW3: poll
    EXPECT_EQ(in(0x20), 0x81);
    EXPECT_EQ(in(0x20), 0x02); // ISR still selected: IR1 in service
    out(0x0C, 0x20);
    EXPECT_EQ(in(0x20), 0x00); // IR5 is blocked by IR1 in service (fully nested)
    out(0x20, 0x20);           // non-specific EOI
    EXPECT_EQ(in(0x20), 0x00);
    out(0x0C, 0x20);
    EXPECT_EQ(in(0x20), 0x85);
    out(0x65, 0x20); // specific EOI for IR5
    EXPECT_EQ(pic.master().isr(), 0x00);
    out(0x0A, 0x20);
    EXPECT_EQ(in(0x20), 0x00); // edge requests were consumed by the acknowledges
}

TEST_F(DevicesPicTest, MaskedRequestsStayInIrrButAreNotPolled) {
    init_like_linux();
    pic.set_irq(3, true);
    EXPECT_EQ(pic.master().irr() & 0x08, 0x08);
    out(0x0C, 0x20);
    EXPECT_EQ(in(0x20), 0x00);
}

TEST_F(DevicesPicTest, SlaveCascadesIntoMasterIr2) {
    init_like_linux();
    out(0x00, 0xA1);
    pic.set_irq(12, true);
    EXPECT_EQ(pic.slave().irr(), 0x10);
    EXPECT_EQ(pic.master().irr() & 0x04, 0x04);
    out(0x0C, 0xA0);
    EXPECT_EQ(in(0xA0), 0x84);
    EXPECT_EQ(pic.master().irr() & 0x04, 0x00); // slave has nothing else pending
}

TEST_F(DevicesPicTest, RotationAndSetPriority) {
    init_like_linux();
    out(0x00, 0x21);
    out(0xC4, 0x20); // set priority: IR4 lowest, so IR5 is now the highest
    pic.set_irq(1, true);
    pic.set_irq(6, true);
    out(0x0C, 0x20);
    EXPECT_EQ(in(0x20), 0x86);
    out(0xA0, 0x20); // rotate on non-specific EOI: IR6 becomes lowest
    out(0x0C, 0x20);
    EXPECT_EQ(in(0x20), 0x81);
}

TEST_F(DevicesPicTest, ElcrKeepsOnlyTheBitsThatMayBeLevel) {
    out(0xFF, 0x4D0);
    out(0xFF, 0x4D1);
    EXPECT_EQ(in(0x4D0), 0xF8);
    EXPECT_EQ(in(0x4D1), 0xDE);
    EXPECT_EQ(pic.read(0x4D0, 2, 0), 0xDEF8u);
    out(0x00, 0x4D0);
    EXPECT_EQ(in(0x4D0), 0x00);
}

TEST_F(DevicesPicTest, LevelTriggeredInputsFollowTheLine) {
    init_like_linux();
    out(0x02, 0x4D1); // IRQ 9 level
    pic.set_irq(9, true);
    EXPECT_EQ(pic.slave().irr() & 0x02, 0x02);
    pic.set_irq(9, false);
    EXPECT_EQ(pic.slave().irr() & 0x02, 0x00);
    // Edge inputs request once per rising edge: acknowledged, a line that stays high asks
    // for nothing more until it goes low and high again.
    out(0x00, 0xA1);
    pic.set_irq(10, true);
    EXPECT_EQ(pic.slave().irr() & 0x04, 0x04);
    out(0x0C, 0xA0);
    EXPECT_EQ(in(0xA0), 0x82);
    out(0x20, 0xA0);
    pic.set_irq(10, true);
    EXPECT_EQ(pic.slave().irr() & 0x04, 0x00);
    pic.set_irq(10, false);
    pic.set_irq(10, true);
    EXPECT_EQ(pic.slave().irr() & 0x04, 0x04);
}

TEST_F(DevicesPicTest, AutoEoiLeavesNothingInService) {
    out(0x11, 0x20);
    out(0x30, 0x21);
    out(0x04, 0x21);
    out(0x03, 0x21); // auto-EOI
    out(0x00, 0x21);
    pic.set_irq(0, true);
    out(0x0C, 0x20);
    EXPECT_EQ(in(0x20), 0x80);
    EXPECT_EQ(pic.master().isr(), 0x00);
}

TEST_F(DevicesPicTest, SpecialMaskModeLetsLowerPrioritiesThrough) {
    init_like_linux();
    out(0x00, 0x21);
    pic.set_irq(1, true);
    out(0x0C, 0x20);
    EXPECT_EQ(in(0x20), 0x81); // IR1 in service
    pic.set_irq(4, true);
    out(0x02, 0x21); // mask IR1, as a handler using special mask mode does
    out(0x68, 0x20); // OCW3: set special mask mode
    out(0x0C, 0x20);
    EXPECT_EQ(in(0x20), 0x84);
}

TEST_F(DevicesPicTest, UnclaimedPortsFloat) {
    EXPECT_FALSE(pic.claims(0x22));
    EXPECT_EQ(pic.read(0x21, 2, 0) >> 8, 0xFFu);
}

} // namespace
} // namespace halcyon::worker
