// Virtual LAPIC: acceptance, TPR/PPR/APR priority logic, delivery to the CPU, EOI, errors, NMI
// and INIT/SIPI.
#include "vlapic_test_support.hpp"

namespace halcyon::vmm::lapic {
namespace {

using namespace testing;
using RunState = VirtualLapic::RunState;

VirtualLapic enabled_lapic(uint32_t id = 0) {
    VirtualLapic lapic(id, kTscHz);
    software_enable(lapic);
    return lapic;
}

TEST(VlapicInterrupts, AcceptSetsIrrAndTriggerMode) {
    VirtualLapic lapic = enabled_lapic();
    lapic.accept(0x31, false);
    lapic.accept(0x72, true);
    EXPECT_TRUE(lapic.irr().test(0x31));
    EXPECT_TRUE(lapic.irr().test(0x72));
    EXPECT_FALSE(lapic.tmr().test(0x31));
    EXPECT_TRUE(lapic.tmr().test(0x72));
    EXPECT_EQ(lapic.mmio_read(offset::irr + 0x10, 0), 1u << (0x31 - 32));
    EXPECT_EQ(lapic.mmio_read(offset::irr + 0x30, 0), 1u << (0x72 - 96));
    EXPECT_EQ(lapic.mmio_read(offset::tmr + 0x30, 0), 1u << (0x72 - 96));
    // A later edge-triggered acceptance of the same vector clears its TMR bit.
    lapic.accept(0x72, false);
    EXPECT_FALSE(lapic.tmr().test(0x72));
    EXPECT_EQ(lapic.pending_vector(), 0x72);
}

TEST(VlapicInterrupts, IllegalVectorsAreRefusedWithAnError) {
    VirtualLapic lapic = enabled_lapic();
    for (unsigned vector = 0; vector < 16; ++vector) {
        lapic.accept(static_cast<uint8_t>(vector), false);
    }
    EXPECT_EQ(lapic.irr().highest(), -1);
    EXPECT_EQ(lapic.pending_vector(), -1);
    EXPECT_EQ(latch_esr(lapic), esr::receive_illegal_vector);
    lapic.accept(16, false); // the lowest legal vector
    EXPECT_TRUE(lapic.irr().test(16));
}

TEST(VlapicInterrupts, SoftwareDisabledDropsNewButDeliversHeld) {
    VirtualLapic lapic = enabled_lapic();
    RecordingBus bus;
    lapic.accept(0x40, false);
    lapic.mmio_write(offset::svr, 0xFF, 0, bus); // software disable
    lapic.accept(0x50, false);
    EXPECT_FALSE(lapic.irr().test(0x50));
    EXPECT_EQ(lapic.pending_vector(), 0x40); // held in the IRR, still handled by the CPU
    lapic.accept_nmi();
    EXPECT_TRUE(lapic.take_nmi());
}

TEST(VlapicInterrupts, TaskPriorityBlocksItsClassAndBelow) {
    VirtualLapic lapic = enabled_lapic();
    lapic.accept(0x55, false);
    lapic.set_task_priority(0x50);
    EXPECT_EQ(lapic.pending_vector(), -1); // same class as TPR: blocked
    lapic.set_task_priority(0x4F);
    EXPECT_EQ(lapic.pending_vector(), 0x55);
    lapic.set_task_priority(0xF0);
    EXPECT_EQ(lapic.pending_vector(), -1);
    lapic.accept(0xFF, false);
    EXPECT_EQ(lapic.pending_vector(), -1); // class 15 never beats TPR class 15
    lapic.set_task_priority(0);
    EXPECT_EQ(lapic.pending_vector(), 0xFF);
}

TEST(VlapicInterrupts, ProcessorPriorityFollowsTprAndIsr) {
    VirtualLapic lapic = enabled_lapic();
    lapic.accept(0x25, false);
    lapic.acknowledge(0x25);
    lapic.set_task_priority(0x34);
    EXPECT_EQ(lapic.processor_priority(), 0x34); // TPR class above ISR class: TPR
    lapic.set_task_priority(0x21);
    EXPECT_EQ(lapic.processor_priority(), 0x21); // equal classes: TPR, sub-class kept
    lapic.set_task_priority(0x14);
    EXPECT_EQ(lapic.processor_priority(), 0x20); // ISR class, sub-class 0
    EXPECT_EQ(lapic.mmio_read(offset::ppr, 0), 0x20u);
}

TEST(VlapicInterrupts, AcknowledgeNestsByPriorityClass) {
    VirtualLapic lapic = enabled_lapic();
    lapic.accept(0x61, false);
    ASSERT_EQ(lapic.pending_vector(), 0x61);
    lapic.acknowledge(0x61);
    EXPECT_FALSE(lapic.irr().test(0x61));
    EXPECT_TRUE(lapic.isr().test(0x61));
    EXPECT_EQ(lapic.processor_priority(), 0x60);
    lapic.accept(0x6F, false); // same class as in service: waits
    lapic.accept(0x52, false); // lower class: waits
    EXPECT_EQ(lapic.pending_vector(), -1);
    lapic.accept(0x70, false); // higher class: preempts
    EXPECT_EQ(lapic.pending_vector(), 0x70);
    lapic.acknowledge(0x70);
    EXPECT_EQ(lapic.mmio_read(offset::isr + 0x30, 0), (1u << (0x70 - 96)) | (1u << (0x61 - 96)));
}

TEST(VlapicInterrupts, AcknowledgeOfAVectorNotRequestedIsIgnored) {
    VirtualLapic lapic = enabled_lapic();
    lapic.acknowledge(0x80);
    EXPECT_EQ(lapic.isr().highest(), -1);
}

TEST(VlapicInterrupts, EoiRetiresTheHighestInService) {
    VirtualLapic lapic = enabled_lapic();
    RecordingBus bus;
    lapic.accept(0x61, false);
    lapic.acknowledge(0x61);
    lapic.accept(0x70, true); // level-triggered
    lapic.acknowledge(0x70);
    lapic.accept(0x6F, false);
    EXPECT_EQ(lapic.pending_vector(), -1);
    lapic.mmio_write(offset::eoi, 0, 0, bus);
    EXPECT_FALSE(lapic.isr().test(0x70));
    EXPECT_TRUE(lapic.isr().test(0x61));
    ASSERT_EQ(bus.eois.size(), 1u); // the IOAPIC hears about the level-triggered one
    EXPECT_EQ(bus.eois[0], 0x70);
    EXPECT_EQ(lapic.pending_vector(), -1); // 0x6F still behind 0x61's class
    lapic.mmio_write(offset::eoi, 0, 0, bus);
    EXPECT_EQ(bus.eois.size(), 1u); // edge-triggered: no broadcast
    EXPECT_EQ(lapic.pending_vector(), 0x6F);
    lapic.mmio_write(offset::eoi, 0, 0, bus); // nothing in service: no-op
    EXPECT_EQ(bus.eois.size(), 1u);
}

TEST(VlapicInterrupts, X2apicEoi) {
    VirtualLapic lapic = enabled_lapic(4);
    RecordingBus bus;
    enter_x2apic(lapic);
    lapic.accept(0x91, true);
    lapic.acknowledge(0x91);
    ASSERT_TRUE(lapic.write_msr(0x80B, 0, 0, bus));
    EXPECT_EQ(lapic.isr().highest(), -1);
    ASSERT_EQ(bus.eois.size(), 1u);
    EXPECT_EQ(bus.eois[0], 0x91);
}

TEST(VlapicInterrupts, ArbitrationPriority) {
    VirtualLapic lapic = enabled_lapic();
    lapic.set_task_priority(0x45);
    EXPECT_EQ(lapic.arbitration_priority(), 0x45); // nothing requested or in service
    lapic.accept(0x62, false);
    EXPECT_EQ(lapic.arbitration_priority(), 0x60); // requested class above TPR
    lapic.acknowledge(0x62);
    EXPECT_EQ(lapic.arbitration_priority(), 0x60); // in-service class above TPR
    lapic.set_task_priority(0x75);
    EXPECT_EQ(lapic.arbitration_priority(), 0x75);
    EXPECT_EQ(lapic.mmio_read(offset::apr, 0), 0x75u);
}

TEST(VlapicInterrupts, ErrorLvtRaisesItsVector) {
    VirtualLapic lapic = enabled_lapic();
    RecordingBus bus;
    lapic.accept(3, false); // error while the LVT error entry is masked: no interrupt
    EXPECT_EQ(lapic.irr().highest(), -1);
    lapic.mmio_write(offset::lvt_last, 0xFE, 0, bus);
    lapic.accept(4, false);
    EXPECT_EQ(lapic.pending_vector(), 0xFE);
    EXPECT_EQ(latch_esr(lapic), esr::receive_illegal_vector);
    // An illegal error vector only logs another error (no loop, no IRR bit).
    lapic.mmio_write(offset::lvt_last, 0x02, 0, bus);
    EXPECT_EQ(lapic.mmio_read(0x040, 0), 0u);
    EXPECT_EQ(latch_esr(lapic), esr::illegal_register | esr::receive_illegal_vector);
    EXPECT_FALSE(lapic.irr().test(0x02));
}

TEST(VlapicInterrupts, NmiIsTakenOnce) {
    VirtualLapic lapic(0, kTscHz); // NMIs do not need the software enable
    EXPECT_FALSE(lapic.take_nmi());
    lapic.accept_nmi();
    lapic.accept_nmi(); // NMIs coalesce while pending
    EXPECT_TRUE(lapic.nmi_pending());
    EXPECT_TRUE(lapic.take_nmi());
    EXPECT_FALSE(lapic.take_nmi());
}

TEST(VlapicInterrupts, ApWaitsForStartup) {
    VirtualLapic bsp(0, kTscHz);
    VirtualLapic ap(1, kTscHz);
    EXPECT_EQ(bsp.run_state(), RunState::running);
    EXPECT_EQ(ap.run_state(), RunState::wait_for_startup);
    uint8_t vector = 0;
    EXPECT_FALSE(ap.take_startup(vector));
    ap.accept_nmi(); // not taken while waiting for SIPI
    EXPECT_FALSE(ap.take_nmi());
    ap.accept_startup(0x9A);
    ap.accept_startup(0x10); // only the first SIPI counts
    EXPECT_EQ(ap.run_state(), RunState::wait_for_startup);
    ASSERT_TRUE(ap.take_startup(vector));
    EXPECT_EQ(vector, 0x9A);
    EXPECT_EQ(ap.run_state(), RunState::running);
    EXPECT_FALSE(ap.take_startup(vector));
    ap.accept_startup(0x20); // a running vCPU ignores SIPI
    EXPECT_FALSE(ap.take_startup(vector));
    bsp.accept_startup(0x20);
    EXPECT_FALSE(bsp.take_startup(vector));
}

TEST(VlapicInterrupts, StartRunningSkipsTheStartupIpi) {
    VirtualLapic ap(2, kTscHz);
    ap.start_running();
    EXPECT_EQ(ap.run_state(), RunState::running);
    uint8_t vector = 0;
    EXPECT_FALSE(ap.take_startup(vector));
    ap.accept_nmi(); // a running AP takes NMIs
    EXPECT_TRUE(ap.take_nmi());
}

TEST(VlapicInterrupts, InitResetsRegistersButNotIdentity) {
    VirtualLapic lapic = enabled_lapic(5);
    RecordingBus bus;
    enter_x2apic(lapic);
    ASSERT_TRUE(lapic.write_msr(0x808, 0x30, 0, bus));
    ASSERT_TRUE(lapic.write_msr(0x832, 0x40, 0, bus));
    ASSERT_TRUE(lapic.write_msr(0x838, 1000, 0, bus));
    lapic.accept(0x80, false);
    lapic.accept_nmi();
    lapic.accept_init();
    EXPECT_EQ(lapic.run_state(), RunState::wait_for_startup);
    EXPECT_EQ(lapic.mode(), VirtualLapic::Mode::x2apic); // IA32_APIC_BASE survives INIT
    EXPECT_EQ(lapic.apic_id(), 5u);
    EXPECT_FALSE(lapic.software_enabled());
    EXPECT_EQ(lapic.task_priority(), 0);
    EXPECT_EQ(lapic.irr().highest(), -1);
    EXPECT_FALSE(lapic.take_nmi());
    EXPECT_EQ(lapic.timer_deadline(), VirtualLapic::kNoDeadline);
    uint64_t value = 0;
    ASSERT_TRUE(lapic.read_msr(0x832, 0, value));
    EXPECT_EQ(value, 0x10000u);
    ASSERT_TRUE(lapic.read_msr(0x838, 0, value));
    EXPECT_EQ(value, 0u);
    ASSERT_TRUE(lapic.read_msr(0x802, 0, value));
    EXPECT_EQ(value, 5u);
}

TEST(VlapicInterrupts, InitToTheBspAlsoWaits) {
    VirtualLapic bsp = enabled_lapic(0);
    bsp.accept_init();
    EXPECT_EQ(bsp.run_state(), RunState::wait_for_startup);
    EXPECT_TRUE(bsp.is_bsp());
    EXPECT_EQ(bsp.apic_base(), 0xFEE00900u);
    bsp.accept_startup(0x08);
    uint8_t vector = 0;
    ASSERT_TRUE(bsp.take_startup(vector));
    EXPECT_EQ(vector, 0x08);
}

TEST(VlapicInterrupts, DeliverDispatchesByMode) {
    VirtualLapic lapic = enabled_lapic(0); // the BSP: running, so it takes NMIs
    Ipi ipi;
    ipi.vector = 0x44;
    ipi.level_triggered = true;
    lapic.deliver(ipi);
    EXPECT_TRUE(lapic.irr().test(0x44));
    EXPECT_TRUE(lapic.tmr().test(0x44));
    ipi.mode = DeliveryMode::lowest_priority;
    ipi.vector = 0x45;
    ipi.level_triggered = false;
    lapic.deliver(ipi);
    EXPECT_TRUE(lapic.irr().test(0x45));
    ipi.mode = DeliveryMode::smi;
    ipi.vector = 0x46;
    lapic.deliver(ipi);
    EXPECT_FALSE(lapic.irr().test(0x46));
    ipi.mode = DeliveryMode::nmi;
    lapic.deliver(ipi);
    EXPECT_TRUE(lapic.take_nmi());
    ipi.mode = DeliveryMode::init;
    ipi.level_assert = false;
    ipi.level_triggered = true; // INIT level de-assert: nothing happens
    lapic.deliver(ipi);
    EXPECT_EQ(lapic.run_state(), RunState::running);
    ipi.level_assert = true;
    lapic.deliver(ipi);
    EXPECT_EQ(lapic.run_state(), RunState::wait_for_startup);
    EXPECT_EQ(lapic.irr().highest(), -1);
    ipi.mode = DeliveryMode::startup;
    ipi.vector = 0x9F;
    lapic.deliver(ipi);
    uint8_t vector = 0;
    ASSERT_TRUE(lapic.take_startup(vector));
    EXPECT_EQ(vector, 0x9F);
}

} // namespace
} // namespace halcyon::vmm::lapic
