// Hot-add, hot-remove and online resize as the guest sees them: the ENUMERATE_BUS notification
// (Linux: storvsc_host_scan) and the unit attentions, each delivered once per I_T nexus.
#include "storvsp_test_support.hpp"

using namespace storvsp_test;

namespace {

constexpr uint8_t kRead = 1, kNone = 2;

class StorvspHotplug : public ::testing::Test {
protected:
    StorvspHotplug() : disk0(1024, {}, 4096), disk1(512) {}
    void SetUp() override {
        ASSERT_FALSE(h.controller.attach(0, disk0.device).is_error());
        h.initialize();
        h.endpoint(0).sent.clear();
    }
    Reply tur(uint8_t lun) { return h.scsi({0x00, 0, 0, 0, 0, 0}, lun, kNone); }
    // Checks that the last unsolicited packet on the primary is ENUMERATE_BUS.
    void expect_enumerate_bus() {
        ASSERT_FALSE(h.endpoint(0).sent.empty());
        const SentPacket& p = h.endpoint(0).sent.back();
        EXPECT_FALSE(p.completion);
        EXPECT_EQ(p.transaction_id, 0u); // Linux: id 0 = unsolicited from the host
        EXPECT_FALSE(p.completion_requested);
        EXPECT_EQ(p.payload.size(), 64u);
        EXPECT_EQ(p.payload[0], 11); // VSTOR_OPERATION_ENUMERATE_BUS
    }
    Harness h;
    MemoryDisk disk0;
    MemoryDisk disk1;
};

TEST_F(StorvspHotplug, HotAddNotifiesAndRaisesReportedLunsChangedOnce) {
    ASSERT_FALSE(h.controller.attach(1, disk1.device).is_error());
    EXPECT_TRUE(h.controller.notification_pending());
    ASSERT_FALSE(h.controller.deliver_notifications(h.endpoint(0)).is_error());
    expect_enumerate_bus();
    EXPECT_FALSE(h.controller.notification_pending());
    // INQUIRY neither reports nor clears the unit attention.
    EXPECT_TRUE(h.scsi({0x12, 0, 0, 0, 36, 0}, 0, kRead, {0x1000, 36}).good());
    EXPECT_TRUE(tur(0).check_condition(6, 0x3F, 0x0E));
    EXPECT_TRUE(tur(0).good()); // once
    EXPECT_TRUE(tur(1).good()); // the new unit starts clean
}

TEST_F(StorvspHotplug, ReportLunsClearsTheInventoryChange) {
    ASSERT_FALSE(h.controller.attach(1, disk1.device).is_error());
    Reply r = h.scsi({0xA0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0}, 0, kRead, {0x1000, 512});
    ASSERT_TRUE(r.good());
    EXPECT_EQ(r.srb.data_transfer_length, 24u);
    EXPECT_TRUE(tur(0).good());
}

TEST_F(StorvspHotplug, HotRemove) {
    ASSERT_FALSE(h.controller.attach(1, disk1.device).is_error());
    EXPECT_TRUE(tur(0).check_condition(6, 0x3F, 0x0E));
    ASSERT_FALSE(h.controller.detach(1).is_error());
    ASSERT_FALSE(h.controller.deliver_notifications(h.endpoint(0)).is_error());
    expect_enumerate_bus();
    // Linux's rescan sends TEST UNIT READY to every known disk: the removed one answers
    // SRB_STATUS_INVALID_LUN and is dropped.
    Reply r = tur(1);
    EXPECT_EQ(r.srb.srb_status & 0x3F, 0x20);
    EXPECT_TRUE(r.check_condition(5, 0x25, 0));
    EXPECT_TRUE(tur(0).check_condition(6, 0x3F, 0x0E));
    EXPECT_TRUE(tur(0).good());
    EXPECT_TRUE(h.controller.detach(1).is_error());
    EXPECT_TRUE(h.controller.attach(0, disk1.device).is_error()); // in use
    EXPECT_TRUE(h.controller.attach(64, disk1.device).is_error());
}

TEST_F(StorvspHotplug, NotificationRidesOnTheNextPrimaryPacket) {
    ASSERT_FALSE(h.controller.attach(1, disk1.device).is_error());
    Reply r = tur(1);
    EXPECT_TRUE(r.good());
    // The completion first, then the notification.
    ASSERT_EQ(h.endpoint(0).sent.size(), 2u);
    EXPECT_TRUE(h.endpoint(0).sent[0].completion);
    expect_enumerate_bus();
    EXPECT_FALSE(h.controller.notification_pending());
}

TEST_F(StorvspHotplug, FullRingKeepsTheNotificationPending) {
    ASSERT_FALSE(h.controller.attach(1, disk1.device).is_error());
    h.endpoint(0).room = false;
    auto status = h.controller.deliver_notifications(h.endpoint(0));
    ASSERT_TRUE(status.is_error());
    EXPECT_EQ(status.error().code(), ErrorCode::busy);
    EXPECT_TRUE(h.controller.notification_pending());
    h.endpoint(0).room = true;
    ASSERT_FALSE(h.controller.deliver_notifications(h.endpoint(0)).is_error());
    expect_enumerate_bus();
}

TEST_F(StorvspHotplug, NoNotificationBeforeTheGuestIsReady) {
    Harness fresh;
    ASSERT_FALSE(fresh.controller.attach(0, disk1.device).is_error());
    EXPECT_FALSE(fresh.controller.notification_pending());
    ASSERT_FALSE(fresh.controller.on_open(0).is_error());
    fresh.operation(7);
    ASSERT_FALSE(fresh.controller.attach(1, disk0.device).is_error());
    EXPECT_FALSE(fresh.controller.notification_pending());
}

TEST_F(StorvspHotplug, OnlineResizeRaisesCapacityDataHasChanged) {
    ASSERT_FALSE(h.controller.resize(0, 4096 * 512).is_error());
    ASSERT_FALSE(h.controller.deliver_notifications(h.endpoint(0)).is_error());
    expect_enumerate_bus();
    // storvsc sees 2Ah/09h on the next command (TEST UNIT READY of its rescan) and re-reads
    // the capacity.
    EXPECT_TRUE(tur(0).check_condition(6, 0x2A, 0x09));
    EXPECT_TRUE(tur(0).good());
    Reply r =
        h.scsi({0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}, 0, kRead, {0x2000, 32});
    ASSERT_TRUE(r.good());
    EXPECT_EQ(h.ram(0x2000 + 6, 2)[0], 0x0F);
    EXPECT_EQ(h.ram(0x2000 + 7, 1)[0], 0xFF); // last LBA 4095
    // The new space reads.
    EXPECT_TRUE(h.scsi({0x28, 0, 0, 0, 0x0F, 0xFF, 0, 0, 1, 0}, 0, kRead, {0x3000, 512}).good());
    // Errors: unaligned size, absent unit, a size the device cannot hold.
    EXPECT_TRUE(h.controller.resize(0, 4096 * 512 + 1).is_error());
    EXPECT_TRUE(h.controller.resize(5, 512).is_error());
    EXPECT_TRUE(h.controller.resize(0, 8192 * 512).is_error());
    EXPECT_TRUE(tur(0).good()); // a failed resize raises nothing
}

TEST_F(StorvspHotplug, RequestSenseReturnsAndClearsTheUnitAttention) {
    ASSERT_FALSE(h.controller.capacity_changed(0).is_error());
    Reply r = h.scsi({0x03, 0, 0, 0, 18, 0}, 0, kRead, {0x1000, 18});
    ASSERT_TRUE(r.good());
    EXPECT_EQ(h.ram(0x1000 + 2, 1)[0], 6);
    EXPECT_EQ(h.ram(0x1000 + 12, 1)[0], 0x2A);
    EXPECT_EQ(h.ram(0x1000 + 13, 1)[0], 0x09);
    EXPECT_TRUE(tur(0).good());
}

TEST_F(StorvspHotplug, SeveralConditionsAreReportedOneAtATime) {
    ASSERT_FALSE(h.controller.attach(1, disk1.device).is_error());
    ASSERT_FALSE(h.controller.capacity_changed(0).is_error());
    EXPECT_TRUE(tur(0).check_condition(6, 0x2A, 0x09));
    EXPECT_TRUE(tur(0).check_condition(6, 0x3F, 0x0E));
    EXPECT_TRUE(tur(0).good());
}

TEST_F(StorvspHotplug, ANewConnectionStartsWithoutUnitAttentions) {
    ASSERT_FALSE(h.controller.capacity_changed(0).is_error());
    h.controller.on_close(0);
    h.initialize();
    EXPECT_TRUE(tur(0).good());
}

} // namespace
