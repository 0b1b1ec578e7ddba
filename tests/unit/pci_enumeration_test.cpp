// PCI enumeration, BAR sizing and the capability walk against a fake configuration space that
// behaves like hardware: BARs answer all-ones writes with their size mask, absent functions
// read as all-ones.
#include "drivers/pci/pci.hpp"

#include <gtest/gtest.h>

#include <map>
#include <tuple>
#include <vector>

using namespace halcyon;
using namespace halcyon::pci;

namespace {

struct FakeFunction {
    uint8_t bytes[256] = {};
    uint64_t bar_size[6] = {}; // 0: not implemented; memory BARs only in this fake
    bool bar_io[6] = {};
    uint32_t writes_with_decode_on = 0; // BAR writes while memory decoding was enabled
};

class FakeConfig final : public ConfigSpace {
public:
    std::map<std::tuple<int, int, int>, FakeFunction> functions;

    FakeFunction& add(uint8_t bus, uint8_t device, uint8_t function, uint16_t vendor,
                      uint16_t device_id) {
        FakeFunction& f = functions[{bus, device, function}];
        put16(f, kVendorId, vendor);
        put16(f, kDeviceId, device_id);
        return f;
    }
    static void put16(FakeFunction& f, uint16_t offset, uint16_t value) {
        f.bytes[offset] = static_cast<uint8_t>(value);
        f.bytes[offset + 1] = static_cast<uint8_t>(value >> 8);
    }
    static void put32(FakeFunction& f, uint16_t offset, uint32_t value) {
        for (int i = 0; i < 4; ++i)
            f.bytes[offset + i] = static_cast<uint8_t>(value >> (8 * i));
    }
    static uint32_t get32(const FakeFunction& f, uint16_t offset) {
        uint32_t value = 0;
        for (int i = 0; i < 4; ++i)
            value |= uint32_t(f.bytes[offset + i]) << (8 * i);
        return value;
    }

    uint32_t read32(Address a, uint16_t offset) override {
        ++reads;
        auto it = functions.find({a.bus, a.device, a.function});
        if (it == functions.end())
            return 0xFFFF'FFFFu;
        return get32(it->second, offset);
    }
    void write32(Address a, uint16_t offset, uint32_t value) override {
        auto it = functions.find({a.bus, a.device, a.function});
        if (it == functions.end())
            return;
        FakeFunction& f = it->second;
        if (offset >= kBar0 && offset < kBar0 + 24) {
            const int index = (offset - kBar0) / 4;
            if ((get32(f, kCommand) & (kCommandMemorySpace | kCommandIoSpace)) != 0)
                ++f.writes_with_decode_on;
            // Which BAR's size governs this dword (the upper half of a 64-bit BAR uses the
            // lower's size).
            const bool upper = index > 0 && (get32(f, kBar0 + (index - 1) * 4) & 6) == 4;
            const uint64_t size = upper ? f.bar_size[index - 1] : f.bar_size[index];
            const uint32_t old = get32(f, offset);
            if (size == 0) {
                put32(f, offset, 0);
                return;
            }
            const uint64_t mask = ~(size - 1);
            const uint32_t half = upper ? static_cast<uint32_t>(mask >> 32)
                                        : (static_cast<uint32_t>(mask) & ~0xFu) | (old & 0xFu);
            put32(f, offset, value & half);
            return;
        }
        if (offset == kCommand) {
            // Status (upper half) bits are write-one-to-clear.
            const uint16_t status = static_cast<uint16_t>(get32(f, kCommand) >> 16);
            put32(f, offset, (value & 0xFFFF) | (uint32_t(status & ~(value >> 16)) << 16));
            return;
        }
        put32(f, offset, value);
    }
    size_t reads = 0;
};

TEST(PciEnumeration, FindsFunctionsAndHonoursTheMultiFunctionBit) {
    FakeConfig config;
    config.add(0, 0, 0, 0x8086, 0x29C0);
    FakeFunction& multi = config.add(0, 2, 0, 0x1AF4, 0x1041);
    multi.bytes[kHeaderType] = 0x80;
    config.add(0, 2, 3, 0x1AF4, 0x1042);
    config.add(0, 5, 1, 0x1234, 0x1111); // function 1 without the bit on function 0: ignored
    config.add(3, 31, 0, 0x10EC, 0x8139);
    FakeFunction& f = config.functions[{0, 0, 0}];
    f.bytes[kClassRevision + 3] = 0x06;
    f.bytes[kClassRevision + 2] = 0x00;
    f.bytes[kClassRevision] = 0x02;

    Function found[8];
    const size_t total = enumerate(config, found);
    ASSERT_EQ(total, 4u);
    EXPECT_EQ(found[0].address, (Address{0, 0, 0}));
    EXPECT_EQ(found[0].class_code, 0x06);
    EXPECT_EQ(found[0].revision, 0x02);
    EXPECT_EQ(found[1].device_id, 0x1041);
    EXPECT_EQ(found[2].address, (Address{0, 2, 3}));
    EXPECT_EQ(found[3].address, (Address{3, 31, 0}));
    EXPECT_EQ(found[3].vendor_id, 0x10EC);

    Function one[1];
    EXPECT_EQ(enumerate(config, one), 4u) << "total is reported even when the array is short";
    EXPECT_EQ(one[0].vendor_id, 0x8086);
}

TEST(PciBars, SizesMemoryBarsWithDecodingOffAndRestoresThem) {
    FakeConfig config;
    FakeFunction& f = config.add(0, 1, 0, 0x1AF4, 0x1041);
    f.bar_size[1] = 0x1000; // 32-bit MMIO at 0xFEB00000
    FakeConfig::put32(f, kBar0 + 4, 0xFEB0'0000u);
    f.bar_size[4] = 0x4000; // 64-bit prefetchable at 0x8_0000_0000
    FakeConfig::put32(f, kBar0 + 16, 0x0000'000Cu);
    FakeConfig::put32(f, kBar0 + 20, 0x0000'0008u);
    FakeConfig::put16(f, kCommand, kCommandMemorySpace);

    auto bar1 = read_bar(config, {0, 1, 0}, 1);
    ASSERT_FALSE(bar1.is_error());
    EXPECT_EQ(bar1.value().base, 0xFEB0'0000u);
    EXPECT_EQ(bar1.value().size, 0x1000u);
    EXPECT_FALSE(bar1.value().is_64bit);

    auto bar4 = read_bar(config, {0, 1, 0}, 4);
    ASSERT_FALSE(bar4.is_error());
    EXPECT_EQ(bar4.value().base, 0x8'0000'0000ull);
    EXPECT_EQ(bar4.value().size, 0x4000u);
    EXPECT_TRUE(bar4.value().is_64bit);
    EXPECT_TRUE(bar4.value().prefetchable);

    auto bar0 = read_bar(config, {0, 1, 0}, 0);
    ASSERT_FALSE(bar0.is_error());
    EXPECT_EQ(bar0.value().size, 0u);

    EXPECT_EQ(f.writes_with_decode_on, 0u) << "BARs must not be probed while decoding";
    EXPECT_EQ(FakeConfig::get32(f, kBar0 + 16), 0x0000'000Cu) << "BAR restored";
    EXPECT_EQ(FakeConfig::get32(f, kBar0 + 20), 0x0000'0008u);
    EXPECT_EQ(FakeConfig::get32(f, kCommand) & 0xFFFF, kCommandMemorySpace) << "command restored";
    EXPECT_TRUE(read_bar(config, {0, 1, 0}, 6).is_error());
}

TEST(PciCapabilities, WalksTheListReportsMsixAndSurvivesLoops) {
    FakeConfig config;
    FakeFunction& f = config.add(0, 3, 0, 0x1AF4, 0x1041);
    FakeConfig::put16(f, kStatus, kStatusCapabilitiesList);
    f.bytes[kCapabilitiesPointer] = 0x40;
    f.bytes[0x40] = kCapabilityVendor;
    f.bytes[0x41] = 0x50;
    f.bytes[0x50] = kCapabilityMsix;
    f.bytes[0x51] = 0x60;
    FakeConfig::put16(f, 0x52, 0x0002);     // table size 3
    FakeConfig::put32(f, 0x54, 0x2000 | 1); // BAR 1, offset 0x2000
    f.bytes[0x60] = kCapabilityVendor;
    f.bytes[0x61] = 0x40; // loops back to the first entry

    std::vector<std::pair<uint8_t, uint8_t>> seen;
    for_each_capability(config, {0, 3, 0}, [&](uint8_t id, uint8_t offset) {
        seen.push_back({id, offset});
        return true;
    });
    EXPECT_EQ(seen.size(), 48u) << "a looping list is cut off, not followed forever";
    EXPECT_EQ(seen[0], (std::pair<uint8_t, uint8_t>{kCapabilityVendor, 0x40}));
    EXPECT_EQ(seen[1], (std::pair<uint8_t, uint8_t>{kCapabilityMsix, 0x50}));

    const InterruptCapabilities irq = interrupt_capabilities(config, {0, 3, 0});
    EXPECT_FALSE(irq.msi_offset.has_value());
    ASSERT_TRUE(irq.msix_offset.has_value());
    EXPECT_EQ(*irq.msix_offset, 0x50);
    EXPECT_EQ(irq.msix_table_size, 3);
    EXPECT_EQ(irq.msix_table_bar, 1);
    EXPECT_EQ(irq.msix_table_offset, 0x2000u);

    FakeConfig::put16(f, kStatus, 0); // no list: nothing walked
    EXPECT_FALSE(find_capability(config, {0, 3, 0}, kCapabilityMsix).has_value());
}

TEST(PciCommand, EnablesMemoryAndBusMasterAndMasksIntx) {
    FakeConfig config;
    FakeFunction& f = config.add(0, 4, 0, 0x1AF4, 0x1041);
    FakeConfig::put16(f, kCommand, kCommandIoSpace);
    FakeConfig::put16(f, kStatus, 0x0010);
    enable_memory_and_bus_master(config, {0, 4, 0});
    EXPECT_EQ(FakeConfig::get32(f, kCommand) & 0xFFFF,
              kCommandIoSpace | kCommandMemorySpace | kCommandBusMaster | kCommandInterruptDisable);
    EXPECT_EQ(FakeConfig::get32(f, kCommand) >> 16, 0x0010u)
        << "status bits are write-one-to-clear and must survive a command write";
}

} // namespace
