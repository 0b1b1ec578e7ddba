// The guest's ACPI tables (vmm/worker/linux/acpi_tables.hpp), read back with the core's own
// ACPI parser (vmm/acpi): a round trip through the code that reads firmware tables on real
// machines, plus the fields that parser does not look at (the VMBus device in the DSDT among
// them), checked in the raw bytes.
#include "vmm/acpi/acpi.hpp"
#include "vmm/acpi/tables.hpp"
#include "vmm/worker/linux/acpi_tables.hpp"
#include "vmm/worker/linux/testing/buffer_guest_memory.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <vector>

namespace halcyon::worker::linux_boot {
namespace {

using testing::BufferGuestMemory;

struct Loaded {
    BufferGuestMemory memory{2ull << 20};
    AcpiTables tables{};
    std::unique_ptr<acpi::Machine> machine = std::make_unique<acpi::Machine>();
};

std::unique_ptr<Loaded> load(uint32_t vcpus, bool vmbus = false) {
    auto loaded = std::make_unique<Loaded>();
    auto tables = write_acpi_tables(loaded->memory, AcpiPlatform{vcpus, vmbus});
    EXPECT_FALSE(tables.is_error()) << tables.error().message();
    if (tables.is_error())
        return loaded;
    loaded->tables = tables.value();
    auto discovered = acpi::discover(loaded->tables.rsdp, loaded->memory, *loaded->machine);
    EXPECT_FALSE(discovered.is_error())
        << discovered.error().message() << " in " << loaded->machine->problem_table;
    return loaded;
}

TEST(LinuxAcpiTables, CoreParserFindsEveryProcessorAndInterruptController) {
    for (uint32_t vcpus : {1u, 2u, 8u, 64u, 254u}) {
        auto loaded = load(vcpus);
        const acpi::Machine& m = *loaded->machine;
        EXPECT_EQ(m.revision, 2);
        EXPECT_STREQ(m.oem_id, "HALCYN");
        EXPECT_TRUE(m.root_is_xsdt);
        EXPECT_EQ(m.local_apic_address, 0xFEE0'0000u);
        EXPECT_TRUE(m.has_legacy_pics);
        ASSERT_EQ(m.cpu_count, vcpus);
        for (uint32_t i = 0; i < vcpus; ++i) {
            EXPECT_EQ(m.cpus[i].apic_id, i);
            EXPECT_EQ(m.cpus[i].processor_uid, i);
            EXPECT_TRUE(m.cpus[i].enabled);
            EXPECT_FALSE(m.cpus[i].x2apic);
        }
        ASSERT_EQ(m.io_apic_count, 1u);
        EXPECT_EQ(m.io_apics[0].id, vcpus);
        EXPECT_EQ(m.io_apics[0].address, 0xFEC0'0000u);
        EXPECT_EQ(m.io_apics[0].gsi_base, 0u);
        ASSERT_EQ(m.override_count, 2u);
        EXPECT_EQ(m.overrides[0].source_irq, 0);
        EXPECT_EQ(m.overrides[0].gsi, 2u);
        EXPECT_EQ(m.overrides[0].flags, 0);
        EXPECT_EQ(m.overrides[1].source_irq, 9);
        EXPECT_EQ(m.overrides[1].gsi, 9u);
        EXPECT_EQ(m.overrides[1].flags, 0x000F);
        EXPECT_LE(loaded->tables.end, kAcpiRegionEnd);
    }
}

TEST(LinuxAcpiTables, CoreParserFindsTheFixedHardwareAndS5) {
    auto loaded = load(2);
    const acpi::Machine& m = *loaded->machine;
    EXPECT_EQ(m.dsdt_address, loaded->tables.dsdt);
    EXPECT_EQ(m.pm1a_control_port, 0x604u);
    EXPECT_EQ(m.pm1b_control_port, 0u);
    EXPECT_EQ(m.pm_timer_port, 0x608u);
    EXPECT_TRUE(m.pm_timer_32bit);
    EXPECT_EQ(m.sci_interrupt, 9);
    EXPECT_TRUE(m.reset_register_valid);
    EXPECT_EQ(m.reset_register_space, acpi::kSpaceSystemIo);
    EXPECT_EQ(m.reset_register_address, 0xCF9u);
    EXPECT_EQ(m.reset_value, 0x06);
    EXPECT_FALSE(m.hardware_reduced);
    EXPECT_TRUE(m.s5_valid);
    EXPECT_EQ(m.s5_sleep_type_a, 5);
    EXPECT_EQ(m.s5_sleep_type_b, 5);
    EXPECT_EQ(m.hpet_address, 0u);
}

TEST(LinuxAcpiTables, FadtFieldsTheCoreParserDoesNotRead) {
    auto loaded = load(1);
    const auto fadt = loaded->memory.load<acpi::Fadt>(loaded->tables.fadt);
    EXPECT_EQ(+fadt.header.revision, 6);
    EXPECT_EQ(+fadt.header.length, sizeof(acpi::Fadt));
    EXPECT_EQ(+fadt.pm1a_event_block, 0x600u);
    EXPECT_EQ(+fadt.pm1_event_length, 4);
    EXPECT_EQ(+fadt.pm1_control_length, 2);
    EXPECT_EQ(+fadt.pm_timer_length, 4);
    EXPECT_EQ(+fadt.smi_command, 0u); // ACPI always enabled
    EXPECT_EQ(+fadt.gpe0_block, 0u);
    EXPECT_EQ(+fadt.flags & (1u << 4), 0u);          // PWR_BUTTON clear: fixed-feature power button
    EXPECT_EQ(+fadt.flags & (1u << 20), 0u);         // HW_REDUCED_ACPI clear
    EXPECT_NE(+fadt.flags & (1u << 8), 0u);          // TMR_VAL_EXT
    EXPECT_NE(+fadt.flags & (1u << 10), 0u);         // RESET_REG_SUP
    EXPECT_EQ(+fadt.iapc_boot_arch & (1u << 1), 0u); // no 8042
    EXPECT_NE(+fadt.iapc_boot_arch & (1u << 2), 0u); // VGA not present
    EXPECT_EQ(+fadt.x_dsdt, loaded->tables.dsdt);
    EXPECT_EQ(+fadt.dsdt, loaded->tables.dsdt);
    EXPECT_EQ(+fadt.firmware_ctrl, loaded->tables.facs);
    EXPECT_EQ(+fadt.x_firmware_ctrl, 0u); // must be zero when FIRMWARE_CTRL is set
    // The extended PM blocks agree with the legacy ones (a reader may use either).
    EXPECT_EQ(+fadt.x_pm1a_event_block.space_id, acpi::kSpaceSystemIo);
    EXPECT_EQ(+fadt.x_pm1a_event_block.address, 0x600u);
    EXPECT_EQ(+fadt.x_pm1a_event_block.bit_width, 32);
    EXPECT_EQ(+fadt.x_pm1a_control_block.address, 0x604u);
    EXPECT_EQ(+fadt.x_pm1a_control_block.bit_width, 16);
    EXPECT_EQ(+fadt.x_pm_timer_block.address, 0x608u);
    EXPECT_EQ(+fadt.x_pm_timer_block.bit_width, 32);
    EXPECT_EQ(+fadt.reset_register.bit_width, 8);
}

TEST(LinuxAcpiTables, FacsAndRsdpAreWellFormed) {
    auto loaded = load(1);
    auto facs = loaded->memory.read(loaded->tables.facs, 64).value();
    EXPECT_EQ(std::string(facs.begin(), facs.begin() + 4), "FACS");
    EXPECT_EQ(loaded->memory.load<uint32_t>(loaded->tables.facs + 4), 64u);
    EXPECT_EQ(facs[32], 2); // version
    EXPECT_EQ(loaded->tables.facs % 64, 0u);
    // A kernel without boot_params.acpi_rsdp_addr scans 0xE0000-0xFFFFF on 16-byte boundaries.
    EXPECT_EQ(loaded->tables.rsdp % 16, 0u);
    EXPECT_GE(loaded->tables.rsdp, 0xE0000u);
    const auto rsdp = loaded->memory.load<acpi::Rsdp>(loaded->tables.rsdp);
    EXPECT_EQ(+rsdp.rsdt_address, 0u);
    EXPECT_EQ(+rsdp.xsdt_address, loaded->tables.xsdt);
}

TEST(LinuxAcpiTables, MadtHasALocalApicNmiForLint1OfAllProcessors) {
    auto loaded = load(3);
    const auto madt = loaded->memory.load<acpi::MadtFixed>(loaded->tables.madt);
    EXPECT_EQ(+madt.header.revision, 5);
    // The NMI entry is last: 3 local APICs, one IOAPIC, two overrides before it.
    const uint64_t nmi = loaded->tables.madt + sizeof(acpi::MadtFixed) + 3 * 8 + 12 + 2 * 10;
    const auto entry = loaded->memory.load<acpi::MadtLocalApicNmi>(nmi);
    EXPECT_EQ(+entry.header.type, acpi::kMadtLocalApicNmi);
    EXPECT_EQ(+entry.header.length, 6);
    EXPECT_EQ(+entry.processor_uid, 0xFF);
    EXPECT_EQ(+entry.lint, 1);
    EXPECT_EQ(nmi + 6, loaded->tables.madt + madt.header.length);
}

// The DSDT's AML (header excluded), after checking the header's length and checksum.
std::vector<uint8_t> dsdt_aml(const Loaded& loaded) {
    const auto header = loaded.memory.load<acpi::SdtHeader>(loaded.tables.dsdt);
    EXPECT_EQ(std::string(header.signature, 4), "DSDT");
    EXPECT_LE(loaded.tables.dsdt + header.length, loaded.tables.madt);
    auto table = loaded.memory.read(loaded.tables.dsdt, header.length).value();
    EXPECT_EQ(acpi::checksum(table), 0);
    return {table.begin() + sizeof(acpi::SdtHeader), table.end()};
}

const std::vector<uint8_t> kS5Aml = {0x08, '_',  'S',  '5',  '_',  0x12, 0x08,
                                     0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00};

TEST(LinuxAcpiTables, DsdtWithoutVmbusHasOnlyS5) {
    auto loaded = load(2, false);
    EXPECT_EQ(dsdt_aml(*loaded), kS5Aml);
    // The old entry point (vCPU count only) writes the same tables.
    BufferGuestMemory memory(2ull << 20);
    ASSERT_FALSE(write_acpi_tables(memory, 2).is_error());
    const auto region = [](const BufferGuestMemory& m) {
        auto bytes = m.read(kAcpiRegionStart, kAcpiRegionEnd - kAcpiRegionStart).value();
        return std::vector<uint8_t>(bytes.begin(), bytes.end());
    };
    EXPECT_EQ(region(memory), region(loaded->memory));
}

TEST(LinuxAcpiTables, DsdtWithVmbusDescribesTheDeviceLinuxBindsTo) {
    for (uint32_t vcpus : {1u, 4u, 254u}) {
        auto loaded = load(vcpus, true);
        const std::vector<uint8_t> aml = dsdt_aml(*loaded);
        ASSERT_GT(aml.size(), kS5Aml.size());
        EXPECT_TRUE(std::equal(kS5Aml.begin(), kS5Aml.end(), aml.begin()));
        // Scope (_SB) { Device (VMBS) { ... } }, in the bytes iasl gives for the same ASL
        // (linux_aml_test.cpp has the whole encoding; here: the parts Linux looks at).
        const std::vector<uint8_t> device(aml.begin() + kS5Aml.size(), aml.end());
        ASSERT_EQ(device.size(), 64u);
        EXPECT_EQ(std::vector<uint8_t>(device.begin(), device.begin() + 9),
                  std::vector<uint8_t>({0x10, 0x3F, '_', 'S', 'B', '_', 0x5B, 0x82, 0x38}));
        const std::string text(device.begin(), device.end());
        EXPECT_NE(text.find(std::string("_HID\x0DVMBus\0", 11)), std::string::npos);
        EXPECT_NE(text.find(std::string("_UID\0", 5)), std::string::npos);
        EXPECT_NE(text.find(std::string("_DDN\x0DVMBUS\0", 11)), std::string::npos);
        // Method (_STA) { Return (0x0F) } and a _CRS that is an (empty) resource template.
        EXPECT_NE(text.find(std::string("_STA\0\xA4\x0A\x0F", 8)), std::string::npos);
        EXPECT_NE(text.find(std::string("_CRS\x11\x05\x0A\x02\x79\x00", 10)), std::string::npos);

        // The core's ACPI parser still finds everything, \_S5 included.
        const acpi::Machine& m = *loaded->machine;
        EXPECT_EQ(m.cpu_count, vcpus);
        EXPECT_TRUE(m.s5_valid);
        EXPECT_EQ(m.s5_sleep_type_a, 5);
        // Nothing else moves: the MADT starts where it does without VMBus.
        EXPECT_EQ(loaded->tables.madt, load(vcpus, false)->tables.madt);
    }
}

TEST(LinuxAcpiTables, RefusesVcpuCountsTheMadtCannotDescribe) {
    BufferGuestMemory memory(2ull << 20);
    EXPECT_TRUE(write_acpi_tables(memory, 0).is_error());
    EXPECT_TRUE(write_acpi_tables(memory, 255).is_error());
    EXPECT_TRUE(write_acpi_tables(memory, AcpiPlatform{0, true}).is_error());
    EXPECT_EQ(memory.writes(), 0u);
}

TEST(LinuxAcpiTables, ReportsGuestMemoryThatCannotHoldThem) {
    BufferGuestMemory small(0xE0000); // ends where the tables start
    EXPECT_EQ(write_acpi_tables(small, 1).error().code(), ErrorCode::out_of_range);
}

} // namespace
} // namespace halcyon::worker::linux_boot
