// MSI and MSI-X parsing and programming against a fake configuration space (BARs answer
// all-ones with their size mask; every write is logged so the order of enable/program steps can
// be checked) and an MSI-X table in plain memory.
#include "drivers/pci/msi.hpp"
#include "drivers/pci/pci.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

using namespace halcyon;
using namespace halcyon::pci;

namespace {

constexpr Address kAt{0, 4, 0};

class FakeFunctionConfig final : public ConfigSpace {
public:
    std::array<uint8_t, 256> bytes{};
    std::array<uint64_t, 6> bar_size{}; // memory BARs, 0 = not implemented
    std::vector<std::pair<uint16_t, uint32_t>> writes;

    FakeFunctionConfig() {
        put16(kVendorId, 0x8086);
        put16(kDeviceId, 0x10D3);
        put16(kStatus, kStatusCapabilitiesList);
    }
    void put16(uint16_t offset, uint16_t value) {
        bytes[offset] = static_cast<uint8_t>(value);
        bytes[offset + 1] = static_cast<uint8_t>(value >> 8);
    }
    void put32(uint16_t offset, uint32_t value) {
        for (int i = 0; i < 4; ++i)
            bytes[offset + i] = static_cast<uint8_t>(value >> (8 * i));
    }
    uint16_t get16(uint16_t offset) const {
        return uint16_t(bytes[offset] | bytes[offset + 1] << 8);
    }
    uint32_t get32(uint16_t offset) const {
        return uint32_t(bytes[offset]) | uint32_t(bytes[offset + 1]) << 8 |
               uint32_t(bytes[offset + 2]) << 16 | uint32_t(bytes[offset + 3]) << 24;
    }

    // Appends a capability header to the list (kept in insertion order).
    void add_capability(uint8_t offset, uint8_t id) {
        bytes[offset] = id;
        bytes[offset + 1] = 0;
        if (bytes[kCapabilitiesPointer] == 0) {
            bytes[kCapabilitiesPointer] = offset;
            return;
        }
        uint8_t at = bytes[kCapabilitiesPointer];
        while (bytes[at + 1] != 0)
            at = bytes[at + 1];
        bytes[at + 1] = offset;
    }

    uint32_t read32(Address a, uint16_t offset) override {
        if (!(a == kAt))
            return 0xFFFF'FFFFu;
        return get32(offset);
    }
    void write32(Address a, uint16_t offset, uint32_t value) override {
        if (!(a == kAt))
            return;
        writes.push_back({offset, value});
        if (offset >= kBar0 && offset < kBar0 + 24) {
            const uint64_t size = bar_size[(offset - kBar0) / 4];
            put32(offset,
                  size == 0 ? 0 : (value & ~uint32_t(size - 1) & ~0xFu) | (get32(offset) & 0xF));
            return;
        }
        if (offset == kCommand) {
            // Status (upper half) is write-one-to-clear: the zeros written leave it alone.
            put32(offset, (get32(offset) & 0xFFFF'0000u) | (value & 0xFFFF));
            return;
        }
        // MSI-X table size and capability headers are read-only in hardware; the tests check
        // that the code writes them back unchanged instead of relying on that.
        put32(offset, value);
    }
};

// MSI with 64-bit addresses, per-vector masking and 8 vectors capable at 0x50.
FakeFunctionConfig msi64_function() {
    FakeFunctionConfig f;
    f.add_capability(0x50, kCapabilityMsi);
    f.put16(0x52, kMsiControl64Bit | kMsiControlPerVectorMask | (3u << kMsiControlCapableShift));
    return f;
}

TEST(PciMsi, ParsesTheCapabilityAndItsMovingOffsets) {
    FakeFunctionConfig f = msi64_function();
    const std::optional<MsiCapability> msi = read_msi(f, kAt);
    ASSERT_TRUE(msi.has_value());
    EXPECT_EQ(msi->offset, 0x50);
    EXPECT_TRUE(msi->address_64bit);
    EXPECT_TRUE(msi->per_vector_masking);
    EXPECT_EQ(msi->vectors_capable, 8);
    EXPECT_FALSE(msi->enabled);
    EXPECT_EQ(msi->data_offset(), 0x5C);
    EXPECT_EQ(msi->mask_offset(), 0x60);
    EXPECT_EQ(msi->pending_offset(), 0x64);

    FakeFunctionConfig g;
    g.add_capability(0x40, kCapabilityMsi);
    g.put16(0x42, 0); // 32-bit, 1 vector, no masking
    const std::optional<MsiCapability> small = read_msi(g, kAt);
    ASSERT_TRUE(small.has_value());
    EXPECT_FALSE(small->address_64bit);
    EXPECT_EQ(small->vectors_capable, 1);
    EXPECT_EQ(small->data_offset(), 0x48);
    EXPECT_EQ(small->mask_offset(), 0x4C);

    FakeFunctionConfig none;
    EXPECT_FALSE(read_msi(none, kAt).has_value());
}

TEST(PciMsi, ProgramsAddressAndDataWhileDisabledThenEnables) {
    FakeFunctionConfig f = msi64_function();
    f.put16(0x52, f.get16(0x52) | kMsiControlEnable); // left enabled by someone else
    const MsiCapability msi = *read_msi(f, kAt);
    const MsiMessage message{0x1'FEE0'1000ull, 0x48};
    ASSERT_FALSE(enable_msi(f, kAt, msi, message, 4).is_error());

    EXPECT_EQ(f.get32(0x54), 0xFEE0'1000u);
    EXPECT_EQ(f.get32(0x58), 0x1u);
    EXPECT_EQ(f.get16(0x5C), 0x48);
    const uint16_t control = f.get16(0x52);
    EXPECT_NE(control & kMsiControlEnable, 0);
    EXPECT_EQ((control >> kMsiControlEnableShift) & 7, 2) << "4 vectors = 2^2";
    EXPECT_EQ((control >> kMsiControlCapableShift) & 7, 3) << "capability bits written back";
    EXPECT_EQ(f.bytes[0x50], kCapabilityMsi) << "header preserved by the narrow write";

    // Order: the first write turns MSI off, the last turns it on; address/data in between.
    ASSERT_GE(f.writes.size(), 4u);
    EXPECT_EQ(f.writes.front().first, 0x50);
    EXPECT_EQ((f.writes.front().second >> 16) & kMsiControlEnable, 0u);
    EXPECT_EQ(f.writes.back().first, 0x50);
    EXPECT_NE((f.writes.back().second >> 16) & kMsiControlEnable, 0u);

    const MsiCapability now = *read_msi(f, kAt);
    EXPECT_TRUE(now.enabled);
    EXPECT_EQ(now.vectors_enabled, 4);
    disable_msi(f, kAt, now);
    EXPECT_FALSE(read_msi(f, kAt)->enabled);
}

TEST(PciMsi, RefusesWhatTheCapabilityCannotDo) {
    FakeFunctionConfig f = msi64_function();
    const MsiCapability msi = *read_msi(f, kAt);
    EXPECT_TRUE(enable_msi(f, kAt, msi, {0xFEE0'0000u, 0x40}, 3).is_error()) << "not 2^n";
    EXPECT_TRUE(enable_msi(f, kAt, msi, {0xFEE0'0000u, 0x40}, 16).is_error()) << "> capable";
    EXPECT_TRUE(enable_msi(f, kAt, msi, {0xFEE0'0000u, 0x41}, 2).is_error()) << "low data bits";
    EXPECT_TRUE(enable_msi(f, kAt, msi, {0xFEE0'0002u, 0x40}, 1).is_error()) << "unaligned";
    EXPECT_TRUE(enable_msi(f, kAt, msi, {0xFEE0'0000u, 0x1'0000}, 1).is_error()) << "data 16-bit";
    EXPECT_TRUE(f.writes.empty()) << "nothing written for a refused request";

    FakeFunctionConfig g;
    g.add_capability(0x40, kCapabilityMsi);
    const MsiCapability small = *read_msi(g, kAt);
    auto high = enable_msi(g, kAt, small, {0x1'0000'0000ull, 0x40}, 1);
    ASSERT_TRUE(high.is_error());
    EXPECT_EQ(high.error().code(), ErrorCode::invalid_argument);
    ASSERT_FALSE(enable_msi(g, kAt, small, x86_message(0, 0x40), 1).is_error());
    EXPECT_EQ(g.get32(0x44), 0xFEE0'0000u);
    EXPECT_EQ(g.get16(0x48), 0x40) << "32-bit layout: data right after the address";
}

TEST(PciMsi, MasksSingleVectorsWhenTheFunctionCan) {
    FakeFunctionConfig f = msi64_function();
    const MsiCapability msi = *read_msi(f, kAt);
    ASSERT_FALSE(set_msi_masked(f, kAt, msi, 0, true).is_error());
    ASSERT_FALSE(set_msi_masked(f, kAt, msi, 5, true).is_error());
    EXPECT_EQ(f.get32(0x60), 0x21u);
    ASSERT_FALSE(set_msi_masked(f, kAt, msi, 0, false).is_error());
    EXPECT_EQ(f.get32(0x60), 0x20u);
    EXPECT_TRUE(msi_masked(f, kAt, msi, 5).value());
    EXPECT_FALSE(msi_masked(f, kAt, msi, 4).value());
    EXPECT_EQ(set_msi_masked(f, kAt, msi, 8, true).error().code(), ErrorCode::out_of_range);

    FakeFunctionConfig g;
    g.add_capability(0x40, kCapabilityMsi);
    const MsiCapability plain = *read_msi(g, kAt);
    EXPECT_EQ(set_msi_masked(g, kAt, plain, 0, true).error().code(), ErrorCode::not_supported);
}

// MSI-X at 0x70 after a vendor capability: 5 vectors, table in BAR 3 at 0x0, PBA at 0x2000.
FakeFunctionConfig msix_function() {
    FakeFunctionConfig f;
    f.add_capability(0x40, kCapabilityVendor);
    f.add_capability(0x70, kCapabilityMsix);
    f.put16(0x72, 4);
    f.put32(0x74, 0x0000 | 3);
    f.put32(0x78, 0x2000 | 3);
    f.bar_size[3] = 0x4000;
    f.put32(kBar0 + 12, 0xFEBF'0000u);
    return f;
}

TEST(PciMsix, ParsesTableAndPendingBitArray) {
    FakeFunctionConfig f = msix_function();
    const std::optional<MsixCapability> msix = read_msix(f, kAt);
    ASSERT_TRUE(msix.has_value());
    EXPECT_EQ(msix->offset, 0x70);
    EXPECT_EQ(msix->table_size, 5);
    EXPECT_EQ(msix->table_bar, 3);
    EXPECT_EQ(msix->table_offset, 0u);
    EXPECT_EQ(msix->pba_bar, 3);
    EXPECT_EQ(msix->pba_offset, 0x2000u);
    EXPECT_EQ(msix->table_bytes(), 80u);
    EXPECT_EQ(msix->pba_bytes(), 8u);
    EXPECT_FALSE(msix->enabled);

    auto window = msix_table_window(f, kAt, *msix);
    ASSERT_FALSE(window.is_error());
    EXPECT_EQ(window.value().physical, 0xFEBF'0000u);
    EXPECT_EQ(window.value().bytes, 80u);
    EXPECT_EQ(f.get32(kBar0 + 12), 0xFEBF'0000u) << "BAR restored after sizing";

    // The same code path as pci.hpp's summary.
    const InterruptCapabilities caps = interrupt_capabilities(f, kAt);
    EXPECT_EQ(caps.msix_table_size, 5);
    EXPECT_EQ(caps.msix_table_bar, 3);
}

TEST(PciMsix, TableWindowChecksTheBar) {
    FakeFunctionConfig f = msix_function();
    MsixCapability msix = *read_msix(f, kAt);
    msix.table_offset = 0x3FC0; // 80 bytes from here pass the 16 KiB BAR's end
    EXPECT_EQ(msix_table_window(f, kAt, msix).error().code(), ErrorCode::corrupt);
    msix = *read_msix(f, kAt);
    msix.table_bar = 6;
    EXPECT_EQ(msix_table_window(f, kAt, msix).error().code(), ErrorCode::corrupt);
    msix = *read_msix(f, kAt);
    msix.table_bar = 2; // not implemented
    EXPECT_EQ(msix_table_window(f, kAt, msix).error().code(), ErrorCode::corrupt);
    f.put32(kBar0 + 12, 0);
    msix = *read_msix(f, kAt);
    EXPECT_EQ(msix_table_window(f, kAt, msix).error().code(), ErrorCode::not_found)
        << "BAR without an address";
}

TEST(PciMsix, ControlSetsEnableAndFunctionMaskAndKeepsTheRest) {
    FakeFunctionConfig f = msix_function();
    const MsixCapability msix = *read_msix(f, kAt);
    set_msix_control(f, kAt, msix, true, true);
    EXPECT_EQ(f.get16(0x72), kMsixControlEnable | kMsixControlFunctionMask | 4);
    EXPECT_EQ(f.bytes[0x70], kCapabilityMsix);
    set_msix_control(f, kAt, msix, true, false);
    EXPECT_EQ(f.get16(0x72), kMsixControlEnable | 4);
    const MsixCapability now = *read_msix(f, kAt);
    EXPECT_TRUE(now.enabled);
    EXPECT_FALSE(now.function_masked);
    disable_message_interrupts(f, kAt);
    EXPECT_EQ(f.get16(0x72), 4);
}

TEST(PciMsix, TableEntriesAreProgrammedMaskedAndUnmasked) {
    alignas(16) uint8_t memory[5 * 16 + 16] = {};
    // Entry 1's control has a reserved bit set, as hardware may: it must survive.
    memory[16 + 12 + 2] = 0x80;
    MsixTable table(memory, 5);
    table.mask_all();
    for (uint16_t v = 0; v < 5; ++v)
        EXPECT_TRUE(table.masked(v).value());

    ASSERT_FALSE(table.program(1, x86_message(2, 0x51)).is_error());
    EXPECT_TRUE(table.masked(1).value()) << "programming leaves the mask alone";
    ASSERT_FALSE(table.set_masked(1, false).is_error());
    EXPECT_FALSE(table.masked(1).value());
    EXPECT_EQ(table.message(1).value(), (MsiMessage{0xFEE0'2000u, 0x51}));
    EXPECT_EQ(memory[16 + 12 + 2], 0x80) << "reserved vector-control bits preserved";
    EXPECT_EQ(memory[16 + 12] & 1, 0);
    EXPECT_EQ(memory[16 + 8], 0x51);
    EXPECT_EQ(memory[16 + 1], 0x20); // address 0xFEE02000, little-endian
    EXPECT_EQ(memory[16 + 3], 0xFE);
    EXPECT_TRUE(table.masked(0).value()) << "neighbours untouched";

    ASSERT_FALSE(table.program(4, {0x1'2345'6780ull, 7}).is_error());
    EXPECT_EQ(table.message(4).value().address, 0x1'2345'6780ull);
    EXPECT_EQ(table.program(5, x86_message(0, 0x40)).error().code(), ErrorCode::out_of_range);
    EXPECT_EQ(table.set_masked(5, true).error().code(), ErrorCode::out_of_range);
    EXPECT_EQ(table.program(0, {0xFEE0'0001u, 0}).error().code(), ErrorCode::invalid_argument);
    EXPECT_EQ(memory[5 * 16], 0) << "nothing written past the table";
}

TEST(PciMsi, X86MessageTargetsOneApicWithAFixedEdgeVector) {
    const MsiMessage m = x86_message(3, 0x41);
    EXPECT_EQ(m.address, 0xFEE0'3000u);
    EXPECT_EQ(m.data, 0x41u);
    EXPECT_EQ(x86_message(255, 0xFE).address, 0xFEEF'F000u);
}

TEST(PciMsi, DisablingBothLeavesAPolledFunction) {
    FakeFunctionConfig f = msix_function();
    f.add_capability(0x50, kCapabilityMsi);
    f.put16(0x52, kMsiControlEnable);
    f.put16(0x72, f.get16(0x72) | kMsixControlEnable | kMsixControlFunctionMask);
    disable_message_interrupts(f, kAt);
    EXPECT_EQ(f.get16(0x52) & kMsiControlEnable, 0);
    EXPECT_EQ(f.get16(0x72), 4);

    f.writes.clear();
    disable_message_interrupts(f, kAt);
    EXPECT_TRUE(f.writes.empty()) << "already off: no writes";
}

} // namespace
