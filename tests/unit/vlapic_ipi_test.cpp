// Virtual LAPIC: ICR encoding and sending in both modes, destination matching (physical,
// broadcast, logical flat/cluster, x2APIC cluster), routing with shorthands and lowest priority,
// and an INIT-SIPI-SIPI bring-up through a routing bus.
#include "vlapic_test_support.hpp"

#include <array>

namespace halcyon::vmm::lapic {
namespace {

using namespace testing;

TEST(VlapicIpi, IcrEncodingRoundTrips) {
    Ipi ipi;
    ipi.destination = 0x12345678;
    ipi.logical = true;
    ipi.shorthand = Ipi::all_excluding_self;
    ipi.mode = DeliveryMode::startup;
    ipi.vector = 0x9A;
    ipi.level_assert = true;
    ipi.level_triggered = true;
    EXPECT_EQ(encode_icr(ipi, true), 0x12345678000CCE9Aull);
    const Ipi x2 = decode_icr(encode_icr(ipi, true), true, 7);
    EXPECT_EQ(x2.destination, 0x12345678u);
    EXPECT_TRUE(x2.logical);
    EXPECT_EQ(x2.shorthand, Ipi::all_excluding_self);
    EXPECT_EQ(x2.mode, DeliveryMode::startup);
    EXPECT_EQ(x2.vector, 0x9A);
    EXPECT_TRUE(x2.level_assert);
    EXPECT_TRUE(x2.level_triggered);
    EXPECT_EQ(x2.source_apic_id, 7u);
    EXPECT_EQ(encode_icr(ipi, false), 0x78000000000CCE9Aull); // xAPIC: 8-bit destination
    EXPECT_EQ(decode_icr(encode_icr(ipi, false), false, 0).destination, 0x78u);
}

TEST(VlapicIpi, XapicLowDwordWriteSends) {
    VirtualLapic lapic(2, kTscHz);
    RecordingBus bus;
    lapic.mmio_write(offset::icr_high, 0x03000000, 0, bus);
    EXPECT_TRUE(bus.ipis.empty());                         // the high dword alone sends nothing
    lapic.mmio_write(offset::icr_low, 0xFFF3FE31, 0, bus); // junk in reserved/read-only bits
    ASSERT_EQ(bus.ipis.size(), 1u);
    const Ipi& ipi = bus.ipis[0];
    EXPECT_EQ(ipi.destination, 3u);
    EXPECT_TRUE(ipi.logical);
    EXPECT_EQ(ipi.shorthand, Ipi::none);
    EXPECT_EQ(ipi.mode, DeliveryMode::startup);
    EXPECT_EQ(ipi.vector, 0x31);
    EXPECT_TRUE(ipi.level_assert);
    EXPECT_TRUE(ipi.level_triggered);
    EXPECT_EQ(ipi.source_apic_id, 2u);
    // Delivery status (bit 12) reads idle; reserved bits read 0.
    EXPECT_EQ(lapic.mmio_read(offset::icr_low, 0), 0x0000CE31u);
    EXPECT_EQ(lapic.mmio_read(offset::icr_high, 0), 0x03000000u);
}

TEST(VlapicIpi, X2apicIcrIsOneMsr) {
    VirtualLapic lapic(0x21, kTscHz);
    RecordingBus bus;
    enter_x2apic(lapic);
    ASSERT_TRUE(lapic.write_msr(0x830, (0x1234ull << 32) | 0x4041, 0, bus));
    ASSERT_EQ(bus.ipis.size(), 1u);
    EXPECT_EQ(bus.ipis[0].destination, 0x1234u);
    EXPECT_EQ(bus.ipis[0].mode, DeliveryMode::fixed);
    EXPECT_EQ(bus.ipis[0].vector, 0x41);
    EXPECT_EQ(bus.ipis[0].source_apic_id, 0x21u);
    uint64_t value = 0;
    ASSERT_TRUE(lapic.read_msr(0x830, 0, value));
    EXPECT_EQ(value, (0x1234ull << 32) | 0x4041);
}

TEST(VlapicIpi, SelfIpisStayInside) {
    VirtualLapic lapic(1, kTscHz);
    RecordingBus bus;
    software_enable(lapic);
    lapic.mmio_write(offset::icr_low, 0x00044055, 0, bus); // self, fixed, vector 0x55
    EXPECT_TRUE(bus.ipis.empty());
    EXPECT_EQ(lapic.pending_vector(), 0x55);
    lapic.mmio_write(offset::icr_low, 0x00044456, 0, bus); // self + NMI: invalid, dropped
    EXPECT_FALSE(lapic.take_nmi());
    EXPECT_TRUE(bus.ipis.empty());
    enter_x2apic(lapic);
    ASSERT_TRUE(lapic.write_msr(0x83F, 0x66, 0, bus)); // x2APIC SELF_IPI
    EXPECT_EQ(lapic.pending_vector(), 0x66);
    EXPECT_FALSE(lapic.tmr().test(0x66));
    EXPECT_TRUE(bus.ipis.empty());
}

TEST(VlapicIpi, InvalidMessagesAreNotSent) {
    VirtualLapic lapic(0, kTscHz);
    RecordingBus bus;
    lapic.mmio_write(offset::icr_low, 0x0000400F, 0, bus); // fixed, vector 15
    lapic.mmio_write(offset::icr_low, 0x00004101, 0, bus); // lowest priority, vector 1
    EXPECT_EQ(latch_esr(lapic), esr::send_illegal_vector);
    lapic.mmio_write(offset::icr_low, 0x00004300, 0, bus); // reserved mode 3
    lapic.mmio_write(offset::icr_low, 0x00004700, 0, bus); // reserved mode 7
    lapic.mmio_write(offset::icr_low, 0x00088500, 0, bus); // INIT level de-assert
    lapic.mmio_write(offset::icr_low, 0x0008C620, 0, bus); // all-including-self startup
    EXPECT_TRUE(bus.ipis.empty());
    EXPECT_EQ(latch_esr(lapic), 0u);
    lapic.mmio_write(offset::icr_low, 0x00004400, 0, bus); // NMI: the vector does not matter
    lapic.mmio_write(offset::icr_low, 0x0000C500, 0, bus); // INIT level assert
    lapic.mmio_write(offset::icr_low, 0x000C4200, 0, bus); // SMI to all-excluding-self
    ASSERT_EQ(bus.ipis.size(), 3u);
    EXPECT_EQ(bus.ipis[0].mode, DeliveryMode::nmi);
    EXPECT_EQ(bus.ipis[1].mode, DeliveryMode::init);
    EXPECT_EQ(bus.ipis[2].shorthand, Ipi::all_excluding_self);
    EXPECT_EQ(latch_esr(lapic), 0u);
}

TEST(VlapicIpi, PhysicalAndBroadcastMatching) {
    VirtualLapic xapic(5, kTscHz);
    EXPECT_TRUE(xapic.matches(5, false));
    EXPECT_FALSE(xapic.matches(6, false));
    EXPECT_FALSE(xapic.matches(0x105, false));
    EXPECT_TRUE(xapic.matches(0xFF, false));
    EXPECT_TRUE(xapic.matches(0xFF, true));
    VirtualLapic x2apic(5, kTscHz);
    enter_x2apic(x2apic);
    EXPECT_TRUE(x2apic.matches(5, false));
    EXPECT_FALSE(x2apic.matches(0xFF, false)); // 0xFF is just ID 255 in x2APIC mode
    EXPECT_TRUE(x2apic.matches(0xFFFFFFFF, false));
    EXPECT_TRUE(x2apic.matches(0xFFFFFFFF, true));
    RecordingBus bus;
    ASSERT_TRUE(x2apic.write_msr(msr::apic_base, 0xFEE00000, 0, bus));
    EXPECT_FALSE(x2apic.matches(5, false)); // globally disabled
    EXPECT_FALSE(x2apic.matches(0xFFFFFFFF, false));
}

TEST(VlapicIpi, XapicLogicalFlatAndCluster) {
    VirtualLapic lapic(1, kTscHz);
    RecordingBus bus;
    lapic.mmio_write(offset::ldr, 0x12000000, 0, bus);
    // Flat (DFR reset value): any common bit of the 8-bit mask.
    EXPECT_TRUE(lapic.matches(0x02, true));
    EXPECT_TRUE(lapic.matches(0x10, true));
    EXPECT_FALSE(lapic.matches(0x21, true));
    EXPECT_FALSE(lapic.matches(0x12, false)); // physical compares the ID
    // Cluster: cluster 1, member bit 1.
    lapic.mmio_write(offset::dfr, 0x0FFFFFFF, 0, bus);
    EXPECT_TRUE(lapic.matches(0x12, true));
    EXPECT_TRUE(lapic.matches(0x1F, true));
    EXPECT_FALSE(lapic.matches(0x11, true));
    EXPECT_FALSE(lapic.matches(0x22, true));
    EXPECT_FALSE(lapic.matches(0x02, true));
    EXPECT_TRUE(lapic.matches(0xFF, true)); // broadcast
}

TEST(VlapicIpi, X2apicLogicalCluster) {
    VirtualLapic lapic(0x25, kTscHz); // cluster 2, member bit 5
    enter_x2apic(lapic);
    EXPECT_TRUE(lapic.matches((2u << 16) | 0x20, true));
    EXPECT_TRUE(lapic.matches((2u << 16) | 0xFFFF, true));
    EXPECT_FALSE(lapic.matches((2u << 16) | 0x10, true));
    EXPECT_FALSE(lapic.matches((3u << 16) | 0x20, true));
    EXPECT_FALSE(lapic.matches(0x20, true));
}

// Four LAPICs (IDs 0-3), software-enabled, flat logical IDs 1 << id.
struct Quad {
    Quad() {
        for (uint32_t id = 0; id < 4; ++id) {
            software_enable(lapics[id]);
            RecordingBus bus;
            lapics[id].mmio_write(offset::ldr, (1u << id) << 24, 0, bus);
            pointers[id] = &lapics[id];
        }
    }
    std::vector<uint32_t> route(const Ipi& ipi) {
        std::array<VirtualLapic*, 5> targets{};
        const size_t count = VirtualLapic::route(ipi, pointers, targets);
        std::vector<uint32_t> ids;
        for (size_t index = 0; index < count; ++index) {
            ids.push_back(targets[index]->apic_id());
        }
        return ids;
    }

    std::array<VirtualLapic, 4> lapics{VirtualLapic(0, kTscHz), VirtualLapic(1, kTscHz),
                                       VirtualLapic(2, kTscHz), VirtualLapic(3, kTscHz)};
    std::array<VirtualLapic*, 5> pointers{}; // the last one stays null (a vCPU not created)
};

TEST(VlapicIpi, RoutingByDestinationAndShorthand) {
    Quad quad;
    Ipi ipi;
    ipi.source_apic_id = 1;
    ipi.destination = 2;
    EXPECT_EQ(quad.route(ipi), (std::vector<uint32_t>{2}));
    ipi.destination = 7;
    EXPECT_TRUE(quad.route(ipi).empty());
    ipi.destination = 0xFF;
    EXPECT_EQ(quad.route(ipi), (std::vector<uint32_t>{0, 1, 2, 3}));
    ipi.logical = true;
    ipi.destination = 0x0A;
    EXPECT_EQ(quad.route(ipi), (std::vector<uint32_t>{1, 3}));
    ipi.shorthand = Ipi::self;
    EXPECT_EQ(quad.route(ipi), (std::vector<uint32_t>{1}));
    ipi.shorthand = Ipi::all_including_self;
    EXPECT_EQ(quad.route(ipi), (std::vector<uint32_t>{0, 1, 2, 3}));
    ipi.shorthand = Ipi::all_excluding_self;
    EXPECT_EQ(quad.route(ipi), (std::vector<uint32_t>{0, 2, 3}));
    // A globally disabled LAPIC receives nothing, even broadcasts.
    RecordingBus bus;
    ASSERT_TRUE(quad.lapics[2].write_msr(msr::apic_base, 0xFEE00000, 0, bus));
    EXPECT_EQ(quad.route(ipi), (std::vector<uint32_t>{0, 3}));
}

TEST(VlapicIpi, LowestPriorityPicksOneTarget) {
    Quad quad;
    Ipi ipi;
    ipi.mode = DeliveryMode::lowest_priority;
    ipi.logical = true;
    ipi.destination = 0x0E; // IDs 1, 2, 3
    ipi.vector = 0x50;
    quad.lapics[1].set_task_priority(0x40);
    quad.lapics[2].set_task_priority(0x20);
    quad.lapics[3].set_task_priority(0x20);
    EXPECT_EQ(quad.route(ipi), (std::vector<uint32_t>{2})); // lowest priority, then lowest ID
    quad.lapics[2].accept(0x80, false); // a pending interrupt raises its arbitration priority
    EXPECT_EQ(quad.route(ipi), (std::vector<uint32_t>{3}));
    RecordingBus bus;
    quad.lapics[3].mmio_write(offset::svr, 0xFF, 0, bus); // software-disabled: avoided
    EXPECT_EQ(quad.route(ipi), (std::vector<uint32_t>{1}));
    ipi.destination = 0x08; // only the disabled one matches: it still is the target
    EXPECT_EQ(quad.route(ipi), (std::vector<uint32_t>{3}));
}

TEST(VlapicIpi, X2apicRouting) {
    std::array<VirtualLapic, 3> lapics{VirtualLapic(0, kTscHz), VirtualLapic(0x11, kTscHz),
                                       VirtualLapic(0x12, kTscHz)};
    std::array<VirtualLapic*, 3> pointers{&lapics[0], &lapics[1], &lapics[2]};
    for (VirtualLapic& lapic : lapics) {
        enter_x2apic(lapic);
    }
    std::array<VirtualLapic*, 3> targets{};
    Ipi ipi;
    ipi.logical = true;
    ipi.destination = (1u << 16) | 0x6; // cluster 1, members 1 and 2
    ASSERT_EQ(VirtualLapic::route(ipi, pointers, targets), 2u);
    EXPECT_EQ(targets[0], &lapics[1]);
    EXPECT_EQ(targets[1], &lapics[2]);
    ipi.logical = false;
    ipi.destination = 0xFFFFFFFF;
    EXPECT_EQ(VirtualLapic::route(ipi, pointers, targets), 3u);
}

TEST(VlapicIpi, InitSipiSipiBringUp) {
    // The BSP wakes the APs the way Linux does in xAPIC mode, through a routing bus.
    std::array<VirtualLapic, 3> lapics{VirtualLapic(0, kTscHz), VirtualLapic(1, kTscHz),
                                       VirtualLapic(2, kTscHz)};
    std::array<VirtualLapic*, 3> pointers{&lapics[0], &lapics[1], &lapics[2]};
    RoutingBus bus(pointers);
    VirtualLapic& bsp = lapics[0];
    software_enable(bsp);
    for (uint32_t ap = 1; ap < 3; ++ap) {
        bsp.mmio_write(offset::icr_high, ap << 24, 0, bus);
        bsp.mmio_write(offset::icr_low, 0x0000C500, 0, bus); // INIT, level, assert
        bsp.mmio_write(offset::icr_low, 0x00008500, 0, bus); // INIT level de-assert
        for (int sipi = 0; sipi < 2; ++sipi) {
            bsp.mmio_write(offset::icr_low, 0x00004600 | (0x90 + ap), 0, bus); // startup
        }
    }
    EXPECT_EQ(bsp.run_state(), VirtualLapic::RunState::running);
    for (uint32_t ap = 1; ap < 3; ++ap) {
        uint8_t vector = 0;
        ASSERT_TRUE(lapics[ap].take_startup(vector)) << ap;
        EXPECT_EQ(vector, 0x90 + ap);
        EXPECT_FALSE(lapics[ap].take_startup(vector)); // the second SIPI was ignored
        EXPECT_EQ(lapics[ap].run_state(), VirtualLapic::RunState::running);
    }
    // A fixed IPI and an NMI broadcast to the others.
    software_enable(lapics[2]);
    bsp.mmio_write(offset::icr_high, 2u << 24, 0, bus);
    bsp.mmio_write(offset::icr_low, 0x000040F3, 0, bus);
    EXPECT_EQ(lapics[2].pending_vector(), 0xF3);
    EXPECT_EQ(lapics[1].pending_vector(), -1); // software-disabled AP 1 dropped nothing: not sent
    bsp.mmio_write(offset::icr_low, 0x000C4400, 0, bus);
    EXPECT_FALSE(bsp.take_nmi());
    EXPECT_TRUE(lapics[1].take_nmi());
    EXPECT_TRUE(lapics[2].take_nmi());
}

} // namespace
} // namespace halcyon::vmm::lapic
