// The management partition's PCI configuration ports (vmm/mgmt_host/pci_filter.hpp): only the
// assigned NIC's function exists, its BARs and ROM BAR cannot be written, every other function
// is absent; and the restart budget of a crashing partition (restart_budget.hpp).
#include "vmm/mgmt_host/pci_filter.hpp"
#include "vmm/mgmt_host/restart_budget.hpp"

#include <gtest/gtest.h>
#include <map>
#include <tuple>
#include <vector>

namespace halcyon::mgmt_host {
namespace {

struct FakeConfig final : RawConfigAccess {
    struct Access {
        uint8_t bus, device, function, offset, size;
        uint32_t value;
    };
    std::vector<Access> reads, writes;
    uint32_t read(PciFunctionAddress f, uint8_t offset, uint8_t size) override {
        reads.push_back({f.bus, f.device, f.function, offset, size, 0});
        return 0x1041'1AF4u >> (8 * (offset & 3)) & (size == 4 ? ~0u : (1u << (size * 8)) - 1);
    }
    void write(PciFunctionAddress f, uint8_t offset, uint8_t size, uint32_t value) override {
        writes.push_back({f.bus, f.device, f.function, offset, size, value});
    }
};

uint32_t address(uint8_t bus, uint8_t device, uint8_t function, uint8_t offset) {
    return 0x8000'0000u | (uint32_t(bus) << 16) | (uint32_t(device) << 11) |
           (uint32_t(function) << 8) | offset;
}

TEST(MgmtHostPciFilter, OnlyTheAssignedFunctionIsThere) {
    FakeConfig real;
    PciPortFilter filter(real, {0, 3, 0});
    filter.write(0xCF8, 4, address(0, 3, 0, 0));
    EXPECT_EQ(filter.read(0xCF8, 4), address(0, 3, 0, 0));
    EXPECT_EQ(filter.read(0xCFC, 4), 0x1041'1AF4u);
    EXPECT_EQ(filter.read(0xCFE, 2), 0x1041u);
    ASSERT_EQ(real.reads.size(), 2u);
    EXPECT_EQ(real.reads[1].offset, 2);
    EXPECT_EQ(real.reads[1].size, 2);

    for (uint32_t other : {address(0, 2, 0, 0), address(0, 3, 1, 0), address(1, 3, 0, 0)}) {
        filter.write(0xCF8, 4, other);
        EXPECT_EQ(filter.read(0xCFC, 4), 0xFFFF'FFFFu);
        EXPECT_EQ(filter.read(0xCFD, 1), 0xFFu);
        filter.write(0xCFC, 4, 0x1234);
    }
    filter.write(0xCF8, 4, address(0, 3, 0, 0) & 0x7FFF'FFFF); // enable bit clear
    EXPECT_EQ(filter.read(0xCFC, 4), 0xFFFF'FFFFu);
    EXPECT_EQ(real.reads.size(), 2u);
    EXPECT_TRUE(real.writes.empty());
}

TEST(MgmtHostPciFilter, BarsAndRomCannotBeWritten) {
    FakeConfig real;
    PciPortFilter filter(real, {0, 3, 0});
    for (uint8_t offset = 0x10; offset < 0x28; offset += 4) {
        filter.write(0xCF8, 4, address(0, 3, 0, offset));
        filter.write(0xCFC, 4, 0xFFFF'FFFF); // the BAR sizing probe
        filter.write(0xCFE, 2, 0xFFFF);
    }
    filter.write(0xCF8, 4, address(0, 3, 0, 0x30));
    filter.write(0xCFC, 4, 0xFFFF'F801);
    EXPECT_TRUE(real.writes.empty());
    // Reads of the BARs pass.
    filter.write(0xCF8, 4, address(0, 3, 0, 0x10));
    (void)filter.read(0xCFC, 4);
    EXPECT_EQ(real.reads.size(), 1u);
    // The command register: written at the partition's width only.
    filter.write(0xCF8, 4, address(0, 3, 0, 0x04));
    filter.write(0xCFC, 2, 0x0006);
    ASSERT_EQ(real.writes.size(), 1u);
    EXPECT_EQ(real.writes[0].offset, 0x04);
    EXPECT_EQ(real.writes[0].size, 2);
    EXPECT_EQ(real.writes[0].value, 0x0006u);
    // Interrupt line (0x3C) passes; a dword at 0x2C (subsystem ids, read-only) passes too.
    filter.write(0xCF8, 4, address(0, 3, 0, 0x3C));
    filter.write(0xCFC, 1, 11);
    EXPECT_EQ(real.writes.size(), 2u);
}

TEST(MgmtHostPciFilter, PortsItClaims) {
    FakeConfig real;
    PciPortFilter filter(real, {0, 3, 0});
    EXPECT_TRUE(filter.claims(0xCF8, 4));
    EXPECT_FALSE(filter.claims(0xCF8, 1)); // not the address latch
    EXPECT_FALSE(filter.claims(0xCF9, 1)); // the reset control register
    EXPECT_TRUE(filter.claims(0xCFC, 4));
    EXPECT_TRUE(filter.claims(0xCFD, 1));
    EXPECT_TRUE(filter.claims(0xCFE, 2));
    EXPECT_FALSE(filter.claims(0xCFD, 2)); // unaligned
    EXPECT_FALSE(filter.claims(0xD00, 1));
}

TEST(MgmtHostPciFilter, WithoutANicEverythingIsAbsent) {
    FakeConfig real;
    PciPortFilter filter(real, {0, 3, 0}, false);
    filter.write(0xCF8, 4, address(0, 3, 0, 0));
    EXPECT_EQ(filter.read(0xCFC, 4), 0xFFFF'FFFFu);
    filter.write(0xCFC, 4, 0);
    EXPECT_TRUE(real.reads.empty());
    EXPECT_TRUE(real.writes.empty());
    filter.reset();
    EXPECT_EQ(filter.read(0xCF8, 4), 0u);
}

TEST(MgmtHostRestartBudget, ThreeRestartsInTenMinutes) {
    constexpr uint64_t hz = 1000;
    RestartBudget budget(hz);
    EXPECT_TRUE(budget.allow(1 * hz));
    EXPECT_TRUE(budget.allow(2 * hz));
    EXPECT_TRUE(budget.allow(3 * hz));
    EXPECT_FALSE(budget.allow(4 * hz)); // the fourth crash within 10 minutes
    EXPECT_EQ(budget.restarts(), 3u);
    EXPECT_EQ(budget.crashes(), 4u);

    RestartBudget spread(hz);
    EXPECT_TRUE(spread.allow(0));
    EXPECT_TRUE(spread.allow(300 * hz));
    EXPECT_TRUE(spread.allow(599 * hz));
    EXPECT_TRUE(spread.allow(601 * hz)); // the first has left the window
    EXPECT_FALSE(spread.allow(602 * hz));
    EXPECT_TRUE(spread.allow(1300 * hz));
}

} // namespace
} // namespace halcyon::mgmt_host
