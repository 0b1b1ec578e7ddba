// e1000/e1000e bring-up against the fake device: reset handshake, MAC address from the receive
// address registers or the EEPROM (both EERD layouts), link, filters and ring registers, and
// every failure turning into an error instead of a hang.
#include "tests/unit/e1000_test_support.hpp"

using namespace halcyon;
using namespace halcyon::test;

namespace {

class Bringup : public ::testing::TestWithParam<Model> {};

TEST_P(Bringup, ResetsLinksUpAndProgramsRingsAndFilters) {
    FakeE1000 device(GetParam());
    device.reg(kRctl) = kRctlEnable; // left on by a previous owner
    Driver driver;
    Options options;
    options.receive_descriptors = 32;
    options.transmit_descriptors = 16;
    ASSERT_FALSE(driver.start(GetParam(), device, device, device, options).is_error());

    EXPECT_EQ(device.accesses_during_reset, 0u) << "registers touched before the reset finished";
    EXPECT_EQ(device.reg(kCtrl) & kCtrlReset, 0u);
    EXPECT_NE(device.reg(kCtrl) & kCtrlSetLinkUp, 0u) << "CTRL.SLU";
    EXPECT_EQ(device.reg(kCtrl) & (kCtrlLinkReset | kCtrlPhyReset | kCtrlGioMasterDisable), 0u);
    EXPECT_EQ(device.reg(kImc), 0xFFFF'FFFFu) << "interrupts masked: polled";
    EXPECT_EQ(device.reg(kIms), 0u);
    EXPECT_TRUE(driver.link_up());
    EXPECT_EQ(driver.mac(), (MacAddress{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}));
    EXPECT_EQ(driver.mac_source(), MacSource::receive_address);
    EXPECT_STREQ(driver.model(), GetParam() == Model::e1000e ? "e1000e" : "e1000");

    // Receive: our address valid in entry 0, broadcast on, no promiscuity, 2 KiB buffers, CRC
    // stripped, no multicast hash bits.
    EXPECT_EQ(device.reg(kRal0), 0x1200'5452u);
    EXPECT_EQ(device.reg(kRah0), 0x5634u | kRahAddressValid);
    const uint32_t rctl = device.reg(kRctl);
    EXPECT_EQ(rctl, kRctlEnable | kRctlBroadcastAccept | kRctlStripCrc);
    for (uint32_t i = 0; i < kMtaCount; ++i)
        EXPECT_EQ(device.reg(kMta + 4 * i), 0u);
    EXPECT_EQ(device.reg(kRdlen), 32u * 16);
    EXPECT_EQ(device.reg(kRdh), 0u);
    EXPECT_EQ(device.reg(kRdt), 31u) << "every descriptor but one handed to the device";
    EXPECT_EQ(device.reg(kRdbah), 0x1u) << "ring above 4 GiB: the high half is programmed";
    EXPECT_EQ(device.reg(kRdbal) & 0xF, 0u) << "16-byte aligned ring";

    // Transmit: enabled with padding, empty ring.
    EXPECT_EQ(device.reg(kTdlen), 16u * 16);
    EXPECT_EQ(device.reg(kTdh), 0u);
    EXPECT_EQ(device.reg(kTdt), 0u);
    EXPECT_NE(device.reg(kTctl) & kTctlEnable, 0u);
    EXPECT_NE(device.reg(kTctl) & kTctlPadShortPackets, 0u);
    EXPECT_NE(device.reg(kTipg), 0u);

    // The tail moved only after the receive unit was enabled and the ring was complete.
    size_t rctl_write = 0, last_rdt_write = 0;
    for (size_t i = 0; i < device.writes.size(); ++i) {
        if (device.writes[i].first == kRctl && device.writes[i].second != 0)
            rctl_write = i;
        if (device.writes[i].first == kRdt)
            last_rdt_write = i;
    }
    EXPECT_LT(rctl_write, last_rdt_write);
}

TEST_P(Bringup, ReadsTheMacFromTheEepromWhenTheReceiveAddressIsUnset) {
    const MacAddress permanent = {0x00, 0x1B, 0x21, 0xAA, 0xBB, 0xCC};
    FakeE1000 device(GetParam(), permanent);
    device.mac_in_receive_address = false;
    Driver driver;
    ASSERT_FALSE(driver.start(GetParam(), device, device, device).is_error());
    EXPECT_EQ(driver.mac(), permanent);
    EXPECT_EQ(driver.mac_source(), MacSource::eeprom);
    // ...and it is programmed into the filter, so frames to it arrive.
    EXPECT_EQ(device.reg(kRal0), 0xAA21'1B00u);
    EXPECT_EQ(device.reg(kRah0), 0xCCBBu | kRahAddressValid);
    EXPECT_EQ(device.receive(make_frame(permanent, 1)), FakeE1000::Received::stored);
}

TEST_P(Bringup, RefusesAnInvalidMacAddress) {
    FakeE1000 device(GetParam());
    device.mac_in_receive_address = false;
    device.eeprom[0] = 0xFFFF; // erased EEPROM: ff:ff:... is not a station address
    device.eeprom[1] = 0xFFFF;
    device.eeprom[2] = 0xFFFF;
    Driver driver;
    auto result = driver.start(GetParam(), device, device, device);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::corrupt);
    EXPECT_FALSE(driver.link_up()) << "a driver that did not start reports no link";
}

TEST_P(Bringup, ResetThatNeverCompletesIsATimeoutNotAHang) {
    FakeE1000 device(GetParam());
    device.reset_sticks = true;
    Driver driver;
    Options options;
    options.reset_timeout_us = 5'000;
    auto result = driver.start(GetParam(), device, device, device, options);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::timeout);
    EXPECT_LT(device.now_us, 100'000u) << "gave up after about the configured timeout";
    EXPECT_GE(device.now_us, 5'000u);
}

TEST_P(Bringup, EepromThatNeverAnswersIsATimeout) {
    FakeE1000 device(GetParam());
    device.mac_in_receive_address = false;
    device.eeprom_never_done = true;
    Driver driver;
    auto result = driver.start(GetParam(), device, device, device);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::timeout);
}

TEST_P(Bringup, AbsentDeviceIsAnIoError) {
    FakeE1000 device(GetParam());
    device.absent = true;
    Driver driver;
    auto result = driver.start(GetParam(), device, device, device);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::io);
    EXPECT_EQ(device.now_us, 0u) << "noticed at once, without waiting for timeouts";
}

TEST_P(Bringup, RejectsRingSizesTheDeviceCannotTake) {
    FakeE1000 device(GetParam());
    Driver driver;
    for (uint16_t bad : {uint16_t(0), uint16_t(4), uint16_t(12), uint16_t(8192)}) {
        Options options;
        options.receive_descriptors = bad;
        auto result = driver.start(GetParam(), device, device, device, options);
        ASSERT_TRUE(result.is_error()) << bad;
        EXPECT_EQ(result.error().code(), ErrorCode::invalid_argument);
    }
}

TEST_P(Bringup, OutOfDmaMemoryLeavesReceiveOff) {
    FakeE1000 device(GetParam());
    device.fail_dma_after(3); // receive ring + buffers + transmit ring, then nothing
    Driver driver;
    auto result = driver.start(GetParam(), device, device, device);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::out_of_memory);
    EXPECT_EQ(device.reg(kRctl) & kRctlEnable, 0u);
    CollectingSink sink;
    EXPECT_EQ(driver.poll(sink, 8), 0u);
    EXPECT_TRUE(driver.transmit_buffer().is_error());
}

INSTANTIATE_TEST_SUITE_P(Models, Bringup, ::testing::Values(Model::e1000, Model::e1000e),
                         [](const auto& info) { return std::string(model_name(info.param)); });

TEST(E1000Eeprom, UsesEachFamilysEerdLayout) {
    // 8254x: address in bits 15:8, DONE bit 4. 82574: address in bits 15:2, DONE bit 1.
    for (Model model : {Model::e1000, Model::e1000e}) {
        FakeE1000 device(model);
        device.mac_in_receive_address = false;
        Driver driver;
        ASSERT_FALSE(driver.start(model, device, device, device).is_error());
        std::vector<uint32_t> eerd_writes;
        for (auto [offset, value] : device.writes) {
            if (offset == kEerd)
                eerd_writes.push_back(value);
        }
        ASSERT_EQ(eerd_writes.size(), 3u);
        for (uint32_t word = 0; word < 3; ++word) {
            const uint32_t expected =
                model == Model::e1000e ? (word << 2) | kEerdStart : (word << 8) | kEerdStart;
            EXPECT_EQ(eerd_writes[word], expected) << model_name(model) << " word " << word;
        }
    }
}

TEST(E1000Reset, StopsBusMasteringBeforeResettingThe82574) {
    FakeE1000 device(Model::e1000e);
    Driver driver;
    ASSERT_FALSE(driver.start(Model::e1000e, device, device, device).is_error());
    size_t master_disable = SIZE_MAX, reset = SIZE_MAX;
    for (size_t i = 0; i < device.writes.size(); ++i) {
        const auto [offset, value] = device.writes[i];
        if (offset == kCtrl && (value & kCtrlGioMasterDisable) && master_disable == SIZE_MAX)
            master_disable = i;
        if (offset == kCtrl && (value & kCtrlReset))
            reset = i;
    }
    ASSERT_NE(master_disable, SIZE_MAX);
    ASSERT_NE(reset, SIZE_MAX);
    EXPECT_LT(master_disable, reset);
}

TEST(E1000Models, KnowsQemusDevicesAndNothingElse) {
    pci::Function function;
    function.vendor_id = 0x8086;
    function.device_id = 0x100E;
    EXPECT_EQ(model_of(function), Model::e1000);
    function.device_id = 0x100F;
    EXPECT_EQ(model_of(function), Model::e1000);
    function.device_id = 0x10D3;
    EXPECT_EQ(model_of(function), Model::e1000e);
    function.device_id = 0x1004; // 82543GC: no EERD, not driven
    EXPECT_FALSE(model_of(function).has_value());
    function.device_id = 0x10D3;
    function.vendor_id = 0x1AF4;
    EXPECT_FALSE(model_of(function).has_value());
    function.vendor_id = 0x8086;
    function.header_type = 1; // a bridge with a coincidental id
    EXPECT_FALSE(model_of(function).has_value());
}

} // namespace
