// ACPI discovery over synthetic tables in a fake physical memory (vmm/acpi/testing): a QEMU-like
// set, then one damaged or unusual variant per test.
#include "vmm/acpi/acpi.hpp"
#include "vmm/acpi/parsers.hpp"
#include "vmm/acpi/tables.hpp"
#include "vmm/acpi/testing/synthetic_tables.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace halcyon;
using namespace halcyon::acpi;
using namespace halcyon::acpi::testing;

namespace {

Bytes madt_prefix() {
    Bytes body;
    put(body, 0xFEE00000, 4);
    put(body, kMadtPcatCompat, 4);
    return body;
}

// The MADT QEMU builds for `-smp 4` on q35.
Bytes qemu_madt_body() {
    Bytes body = madt_prefix();
    for (uint8_t cpu = 0; cpu < 4; ++cpu)
        lapic(body, cpu, cpu, kLocalApicEnabled);
    ioapic(body, 0, 0xFEC00000, 0);
    override_entry(body, 0, 2, 0);
    for (uint8_t irq : {5, 9, 10, 11})
        override_entry(body, irq, irq, 0xD);
    lapic_nmi(body);
    return body;
}

Fadt base_fadt(uint32_t dsdt) {
    Fadt fadt;
    std::memset(&fadt, 0, sizeof(fadt));
    fadt.dsdt = dsdt;
    fadt.sci_interrupt = 9;
    fadt.pm1a_event_block = 0x600;
    fadt.pm1a_control_block = 0x604;
    fadt.pm_timer_block = 0x608;
    fadt.pm_timer_length = 4;
    fadt.flags = kFadtTimerValueExtended | kFadtResetRegisterSupported;
    fadt.reset_register = GenericAddress{kSpaceSystemIo, 8, 0, 1, 0xCF9};
    fadt.reset_value = 0x0F;
    return fadt;
}

Bytes fadt_table(const Fadt& fadt, size_t length, uint8_t revision) {
    Bytes body(length - 36);
    std::memcpy(body.data(), reinterpret_cast<const uint8_t*>(&fadt) + 36, body.size());
    return make_table("FACP", body, revision);
}

// `Name (\_S5, Package (n) { elements })`, optionally without the root prefix.
Bytes s5_aml(const Bytes& elements, uint8_t count, bool root_prefix = true) {
    Bytes aml = {0x08};
    if (root_prefix)
        aml.push_back('\\');
    put_string(aml, "_S5_");
    aml.push_back(0x12);
    aml.push_back(static_cast<uint8_t>(2 + elements.size())); // PkgLength counts itself
    aml.push_back(count);
    aml.insert(aml.end(), elements.begin(), elements.end());
    return aml;
}

Bytes dsdt_with(const Bytes& aml) {
    // Some unrelated AML around the definition, as in a real DSDT: Scope (\_SB) { } and a
    // string containing "_S5_" that is not a name.
    Bytes body = {0x10, 0x06, '\\', '_', 'S', 'B', '_', 0x0D, '_', 'S', '5', '_', 0x00};
    body.insert(body.end(), aml.begin(), aml.end());
    body.push_back(0xA3); // Noop
    return make_table("DSDT", body, 2);
}

// 64 KiB apart, so no table (even the 266-CPU MADT) overlaps the next one.
constexpr uint64_t kRsdp = 0xF5A40, kXsdt = 0x7F20000, kRsdt = 0x7F30000, kMadt = 0x7F40000,
                   kFadt = 0x7F50000, kDsdt = 0x7F60000, kHpet = 0x7F70000, kSsdt = 0x7F80000;

Bytes root_table(const char* signature, const std::vector<uint64_t>& tables, size_t entry_size) {
    Bytes body;
    for (uint64_t table : tables)
        put(body, table, entry_size);
    return make_table(signature, body);
}

// A complete QEMU-like table set: RSDP v2 -> XSDT and RSDT -> FACP, APIC, HPET; DSDT with \_S5.
FakeMemory qemu_like() {
    FakeMemory memory;
    memory.place(kRsdp, make_rsdp(2, kRsdt, kXsdt));
    memory.place(kXsdt, root_table("XSDT", {kFadt, kMadt, kHpet}, 8));
    memory.place(kRsdt, root_table("RSDT", {kFadt, kMadt, kHpet}, 4));
    memory.place(kMadt, make_table("APIC", qemu_madt_body(), 1));
    memory.place(kFadt, fadt_table(base_fadt(kDsdt), 244, 3));
    memory.place(kDsdt, dsdt_with(s5_aml({0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00}, 4)));
    Bytes hpet;
    put(hpet, 0x8086A201, 4);
    put(hpet, kSpaceSystemMemory, 1);
    put(hpet, 64, 1);
    put(hpet, 0, 1);
    put(hpet, 0, 1);
    put(hpet, 0xFED00000, 8);
    put(hpet, 0, 1);
    put(hpet, 0, 2);
    put(hpet, 0, 1);
    memory.place(kHpet, make_table("HPET", hpet, 1));
    return memory;
}

std::unique_ptr<Machine> discover_ok(const FakeMemory& memory, uint64_t rsdp = kRsdp) {
    auto machine = std::make_unique<Machine>();
    auto result = discover(rsdp, memory, *machine);
    EXPECT_FALSE(result.is_error()) << (result.is_error() ? result.error().message() : "")
                                    << " table " << machine->problem_table;
    return machine;
}

std::unique_ptr<Machine> discover_fails(const FakeMemory& memory, const char* problem_table,
                                        uint64_t rsdp = kRsdp) {
    auto machine = std::make_unique<Machine>();
    auto result = discover(rsdp, memory, *machine);
    EXPECT_TRUE(result.is_error());
    EXPECT_STREQ(machine->problem_table, problem_table);
    return machine;
}

} // namespace

TEST(Acpi, QemuLikeTableSet) {
    auto m = discover_ok(qemu_like());
    EXPECT_EQ(m->revision, 2);
    EXPECT_STREQ(m->oem_id, "BOCHS ");
    EXPECT_TRUE(m->root_is_xsdt);
    EXPECT_EQ(m->local_apic_address, 0xFEE00000u);
    EXPECT_TRUE(m->has_legacy_pics);
    ASSERT_EQ(m->cpu_count, 4u);
    for (uint32_t i = 0; i < 4; ++i) {
        EXPECT_EQ(m->cpus[i].apic_id, i);
        EXPECT_EQ(m->cpus[i].processor_uid, i);
        EXPECT_TRUE(m->cpus[i].enabled);
        EXPECT_FALSE(m->cpus[i].x2apic);
    }
    ASSERT_EQ(m->io_apic_count, 1u);
    EXPECT_EQ(m->io_apics[0].address, 0xFEC00000u);
    EXPECT_EQ(m->io_apics[0].gsi_base, 0u);
    ASSERT_EQ(m->override_count, 5u);
    EXPECT_EQ(m->overrides[0].source_irq, 0);
    EXPECT_EQ(m->overrides[0].gsi, 2u);
    EXPECT_EQ(m->overrides[2].source_irq, 9);
    EXPECT_EQ(m->overrides[2].flags, 0xD);
    EXPECT_EQ(m->dsdt_address, kDsdt);
    EXPECT_EQ(m->pm1a_control_port, 0x604u);
    EXPECT_EQ(m->pm1b_control_port, 0u);
    EXPECT_EQ(m->pm_timer_port, 0x608u);
    EXPECT_TRUE(m->pm_timer_32bit);
    EXPECT_EQ(m->sci_interrupt, 9);
    EXPECT_TRUE(m->reset_register_valid);
    EXPECT_EQ(m->reset_register_space, kSpaceSystemIo);
    EXPECT_EQ(m->reset_register_address, 0xCF9u);
    EXPECT_EQ(m->reset_value, 0x0F);
    EXPECT_FALSE(m->hardware_reduced);
    EXPECT_TRUE(m->s5_valid);
    EXPECT_EQ(m->s5_sleep_type_a, 5);
    EXPECT_EQ(m->s5_sleep_type_b, 5);
    EXPECT_EQ(m->hpet_address, 0xFED00000u);
    EXPECT_STREQ(m->problem_table, "");
}

TEST(Acpi, RsdpChecksumsAndSignature) {
    auto memory = qemu_like();
    memory.at(kRsdp)[8] ^= 1;
    discover_fails(memory, "RSDP");

    memory = qemu_like();
    memory.at(kRsdp)[35] ^= 1; // only the extended checksum covers the reserved bytes
    discover_fails(memory, "RSDP");

    memory = qemu_like();
    memory.at(kRsdp)[0] = 'X';
    fix_checksum(memory.at(kRsdp), 8, 20);
    fix_checksum(memory.at(kRsdp), 32);
    discover_fails(memory, "RSDP");

    discover_fails(qemu_like(), "RSDP", 0x1234); // nothing readable there
}

TEST(Acpi, BadTableChecksumIsRefused) {
    auto memory = qemu_like();
    memory.at(kMadt)[40] ^= 0x10;
    auto m = discover_fails(memory, "APIC");

    memory = qemu_like();
    memory.at(kFadt)[50] ^= 0x10;
    discover_fails(memory, "FACP");
}

TEST(Acpi, TruncatedMadtIsRefused) {
    // The header claims more bytes than memory holds: the view refuses the read.
    auto memory = qemu_like();
    Bytes madt = memory.at(kMadt);
    madt.resize(madt.size() - 6);
    memory.place(kMadt, madt);
    discover_fails(memory, "APIC");

    // A consistent table whose last entry says it is longer than what is left.
    Bytes body = madt_prefix();
    lapic(body, 0, 0, kLocalApicEnabled);
    put(body, kMadtIoApic, 1);
    put(body, 12, 1);
    put(body, 0, 4); // only 6 of 12 bytes
    memory.place(kMadt, make_table("APIC", body));
    discover_fails(memory, "APIC");

    // A single dangling byte after the last entry (not even a header).
    body = madt_prefix();
    lapic(body, 0, 0, kLocalApicEnabled);
    body.push_back(0);
    memory.place(kMadt, make_table("APIC", body));
    discover_fails(memory, "APIC");
}

TEST(Acpi, ZeroAndShortMadtEntriesAreRefused) {
    for (uint8_t bad_length : {0, 1, 4}) {
        auto memory = qemu_like();
        Bytes body = madt_prefix();
        lapic(body, 0, 0, kLocalApicEnabled);
        put(body, kMadtLocalApic, 1);
        put(body, bad_length, 1);
        put(body, 0, 6);
        memory.place(kMadt, make_table("APIC", body));
        discover_fails(memory, "APIC");
    }
}

TEST(Acpi, UnknownMadtEntriesAreSkippedByLength) {
    auto memory = qemu_like();
    Bytes body = madt_prefix();
    put(body, 0x7F, 1); // some future entry type, 5 bytes
    put(body, 5, 1);
    put(body, 0xABCDEF, 3);
    lapic(body, 7, 3, kLocalApicEnabled);
    memory.place(kMadt, make_table("APIC", body));
    auto m = discover_ok(memory);
    ASSERT_EQ(m->cpu_count, 1u);
    EXPECT_EQ(m->cpus[0].apic_id, 3u);
    EXPECT_EQ(m->cpus[0].processor_uid, 7u);
}

TEST(Acpi, MadtWithoutProcessorsIsRefused) {
    auto memory = qemu_like();
    Bytes body = madt_prefix();
    ioapic(body, 0, 0xFEC00000, 0);
    memory.place(kMadt, make_table("APIC", body));
    discover_fails(memory, "APIC");
}

TEST(Acpi, X2ApicDisabledOnlineCapableAndDuplicates) {
    auto memory = qemu_like();
    Bytes body = madt_prefix();
    lapic(body, 0, 0, kLocalApicEnabled);
    lapic(body, 1, 1, kLocalApicOnlineCapable);
    x2apic(body, 2, 300, kLocalApicEnabled);
    x2apic(body, 0, 0, kLocalApicEnabled); // the same CPU again: listed once
    memory.place(kMadt, make_table("APIC", body));
    auto m = discover_ok(memory);
    ASSERT_EQ(m->cpu_count, 3u);
    EXPECT_FALSE(m->cpus[1].enabled);
    EXPECT_TRUE(m->cpus[1].online_capable);
    EXPECT_TRUE(m->cpus[2].x2apic);
    EXPECT_EQ(m->cpus[2].apic_id, 300u);
    EXPECT_TRUE(m->has_legacy_pics);
}

TEST(Acpi, MoreCpusThanSupportedAreCountedNotListed) {
    auto memory = qemu_like();
    Bytes body = madt_prefix();
    for (uint32_t cpu = 0; cpu < kMaxCpus + 10; ++cpu)
        x2apic(body, cpu, cpu, kLocalApicEnabled);
    memory.place(kMadt, make_table("APIC", body));
    auto m = discover_ok(memory);
    EXPECT_EQ(m->cpu_count, kMaxCpus);
    EXPECT_EQ(m->cpus_dropped, 10u);
}

TEST(Acpi, LocalApicAddressOverride) {
    auto memory = qemu_like();
    Bytes body = qemu_madt_body();
    put(body, kMadtLocalApicAddressOverride, 1);
    put(body, 12, 1);
    put(body, 0, 2);
    put(body, 0x1'0000'0000ULL, 8);
    memory.place(kMadt, make_table("APIC", body));
    EXPECT_EQ(discover_ok(memory)->local_apic_address, 0x1'0000'0000ULL);
}

TEST(Acpi, RsdtOnlyAcpi1) {
    auto memory = qemu_like();
    memory.place(kRsdp, make_rsdp(0, kRsdt, 0));
    memory.place(kXsdt, Bytes{}); // an XSDT must not even be looked at
    auto m = discover_ok(memory);
    EXPECT_EQ(m->revision, 0);
    EXPECT_FALSE(m->root_is_xsdt);
    EXPECT_EQ(m->cpu_count, 4u);
    EXPECT_TRUE(m->s5_valid);
}

TEST(Acpi, CorruptXsdtFallsBackToRsdt) {
    auto memory = qemu_like();
    memory.at(kXsdt)[40] ^= 1;
    auto m = discover_ok(memory);
    EXPECT_FALSE(m->root_is_xsdt);
    EXPECT_EQ(m->cpu_count, 4u);

    memory.place(kRsdp, make_rsdp(2, 0, kXsdt)); // and with no RSDT to fall back on
    discover_fails(memory, "XSDT");
}

TEST(Acpi, RootTableWithPartialEntryIsRefused) {
    auto memory = qemu_like();
    Bytes body;
    put(body, kFadt, 4);
    put(body, kMadt, 2);
    memory.place(kRsdt, make_table("RSDT", body));
    memory.place(kRsdp, make_rsdp(0, kRsdt, 0));
    discover_fails(memory, "RSDT");
}

TEST(Acpi, MissingMadtOrFadt) {
    auto memory = qemu_like();
    memory.place(kXsdt, root_table("XSDT", {kFadt, kHpet, 0xDEAD0000}, 8)); // dangling entry
    discover_fails(memory, "APIC");

    memory.place(kXsdt, root_table("XSDT", {kMadt}, 8));
    discover_fails(memory, "FACP");
}

TEST(Acpi, ImpossibleTableLength) {
    auto memory = qemu_like();
    Bytes& madt = memory.at(kMadt);
    madt[4] = 10; // shorter than its own header
    madt[5] = madt[6] = madt[7] = 0;
    fix_checksum(madt, 9, 10);
    discover_fails(memory, "APIC");
}

TEST(Acpi, ShortFadtIsNotReadPastItsLength) {
    auto memory = qemu_like();
    Fadt fadt = base_fadt(kDsdt);
    fadt.x_dsdt = 0xBAD0000; // beyond 116 bytes: must not be seen
    memory.place(kFadt, fadt_table(fadt, kFadtV1Size, 1));
    auto m = discover_ok(memory);
    EXPECT_EQ(m->dsdt_address, kDsdt);
    EXPECT_EQ(m->pm1a_control_port, 0x604u);
    EXPECT_EQ(m->pm_timer_port, 0x608u);
    EXPECT_FALSE(m->reset_register_valid); // flag set, but the register is past the end
    EXPECT_TRUE(m->s5_valid);

    memory.place(kFadt, fadt_table(fadt, 100, 1)); // shorter than ACPI 1.0
    discover_fails(memory, "FACP");
}

TEST(Acpi, FadtExtendedFieldsWinWhenUsable) {
    auto memory = qemu_like();
    Fadt fadt = base_fadt(0xBAD0000);
    fadt.x_dsdt = kDsdt;
    fadt.x_pm1a_control_block = GenericAddress{kSpaceSystemIo, 16, 0, 2, 0xB004};
    fadt.x_pm1b_control_block = GenericAddress{kSpaceSystemIo, 16, 0, 2, 0xB104};
    fadt.x_pm_timer_block = GenericAddress{kSpaceSystemMemory, 32, 0, 3, 0xFED80000}; // unusable
    fadt.flags |= kFadtHardwareReduced;
    memory.place(kFadt, fadt_table(fadt, sizeof(Fadt), 6));
    auto m = discover_ok(memory);
    EXPECT_EQ(m->dsdt_address, kDsdt);
    EXPECT_EQ(m->pm1a_control_port, 0xB004u);
    EXPECT_EQ(m->pm1b_control_port, 0xB104u);
    EXPECT_EQ(m->pm_timer_port, 0x608u);
    EXPECT_TRUE(m->hardware_reduced);
    EXPECT_TRUE(m->s5_valid);
}

TEST(Acpi, S5Forms) {
    struct Case {
        Bytes elements;
        uint8_t count;
        bool root_prefix;
        uint8_t a, b;
    };
    const Case cases[] = {
        {{0x00, 0x00, 0x00, 0x00}, 4, false, 0, 0},                // Zero, Zero, Zero, Zero (QEMU)
        {{0x0A, 0x07, 0x0A, 0x07}, 2, true, 7, 7},                 // ByteConst
        {{0x01, 0x0A, 0x05}, 2, true, 1, 5},                       // OneOp, ByteConst
        {{0x0B, 0x05, 0x00, 0x0C, 0x06, 0, 0, 0}, 2, false, 5, 6}, // WordConst, DWordConst
    };
    for (const Case& c : cases) {
        auto memory = qemu_like();
        memory.place(kDsdt, dsdt_with(s5_aml(c.elements, c.count, c.root_prefix)));
        auto m = discover_ok(memory);
        EXPECT_TRUE(m->s5_valid);
        EXPECT_EQ(m->s5_sleep_type_a, c.a);
        EXPECT_EQ(m->s5_sleep_type_b, c.b);
    }
}

TEST(Acpi, MissingOrUnusableS5) {
    const Bytes no_s5 = {0x08, '_', 'S', '4', '_', 0x12, 0x04, 0x02, 0x00, 0x00};
    const Bytes bodies[] = {
        no_s5,
        s5_aml({0x0A, 0x05}, 2),             // second element missing inside the package
        s5_aml({0x0A, 0x05, 0x0A, 0x05}, 1), // fewer than two elements
        s5_aml({0x0A, 0x09, 0x00}, 2),       // 9 does not fit SLP_TYP
        s5_aml({0x70, 0x00, 0x00}, 2),       // an expression, not a constant
        s5_aml({0xFF, 0x00}, 2),             // Ones
    };
    for (const Bytes& body : bodies) {
        auto memory = qemu_like();
        memory.place(kDsdt, dsdt_with(body));
        auto m = discover_ok(memory);
        EXPECT_FALSE(m->s5_valid);
        EXPECT_EQ(m->cpu_count, 4u); // the rest is still discovered
    }

    auto memory = qemu_like();
    memory.at(kDsdt)[20] ^= 1; // a corrupt DSDT is skipped, not fatal
    EXPECT_FALSE(discover_ok(memory)->s5_valid);
}

TEST(Acpi, S5FromSsdtWhenDsdtHasNone) {
    auto memory = qemu_like();
    memory.place(kDsdt, dsdt_with({}));
    Bytes bad_ssdt = make_table("SSDT", s5_aml({0x0A, 0x03, 0x0A, 0x03}, 2));
    bad_ssdt[40] ^= 1;
    memory.place(kSsdt + 0x1000, bad_ssdt);
    memory.place(kSsdt, make_table("SSDT", s5_aml({0x0A, 0x04, 0x0A, 0x04}, 2)));
    memory.place(kXsdt, root_table("XSDT", {kFadt, kSsdt + 0x1000, kMadt, kSsdt}, 8));
    auto m = discover_ok(memory);
    EXPECT_TRUE(m->s5_valid);
    EXPECT_EQ(m->s5_sleep_type_a, 4);
}

TEST(Acpi, S5ScannerStaysInsideTheAml) {
    // Each prefix of a valid definition is exactly-sized on the heap: ASan would flag any
    // read past its end, and none of the prefixes is a complete definition.
    const Bytes full = s5_aml({0x0B, 0x05, 0x00, 0x0B, 0x05, 0x00}, 2);
    for (size_t length = 0; length < full.size(); ++length) {
        Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(length));
        EXPECT_TRUE(find_s5_sleep_type(prefix).is_error()) << "length " << length;
    }
    auto found = find_s5_sleep_type(full);
    ASSERT_FALSE(found.is_error());
    EXPECT_EQ(found.value().a, 5);

    // A multi-byte PkgLength whose length runs past the AML.
    const Bytes long_package = {0x08, '_', 'S', '5', '_', 0x12, 0x41, 0x10, 0x02, 0x00, 0x00};
    EXPECT_TRUE(find_s5_sleep_type(long_package).is_error());
    // The same with a length that fits: two-byte PkgLength 0x0A = (0x0A & 0xF) | 0 << 4.
    const Bytes fitting = {0x08, '_', 'S', '5', '_', 0x12, 0x46, 0x00, 0x02, 0x0A, 0x02, 0x01};
    auto fitting_found = find_s5_sleep_type(fitting);
    ASSERT_FALSE(fitting_found.is_error());
    EXPECT_EQ(fitting_found.value().a, 2);
    EXPECT_EQ(fitting_found.value().b, 1);
}

TEST(Acpi, HpetIsOptional) {
    auto memory = qemu_like();
    memory.place(kXsdt, root_table("XSDT", {kFadt, kMadt}, 8));
    EXPECT_EQ(discover_ok(memory)->hpet_address, 0u);
}

// Random corruption of a valid table set (checksums re-fixed half the time, so the parsers see
// damaged contents and not only checksum failures). Success or failure both fine; what matters
// is no crash, no out-of-bounds read (ASan), no UB (UBSan) and no hang.
TEST(Acpi, FuzzedTablesNeverCrash) {
    std::mt19937 random(20261123);
    const uint64_t targets[] = {kRsdp, kXsdt, kRsdt, kMadt, kFadt, kDsdt, kHpet};
    int successes = 0;
    for (int round = 0; round < 3000; ++round) {
        auto memory = qemu_like();
        uint64_t target = targets[random() % std::size(targets)];
        Bytes& table = memory.at(target);
        int flips = 1 + static_cast<int>(random() % 6);
        for (int i = 0; i < flips; ++i)
            table[random() % table.size()] = static_cast<uint8_t>(random());
        if (random() % 4 == 0)
            table.resize(random() % table.size());
        if (random() % 2 == 0 && target != kRsdp && table.size() >= 36) {
            uint32_t length = static_cast<uint32_t>(table.size());
            std::memcpy(table.data() + 4, &length, 4);
            fix_checksum(table);
        }
        Machine machine;
        if (!discover(kRsdp, memory, machine).is_error()) {
            ++successes;
            EXPECT_LE(machine.cpu_count, kMaxCpus);
        }
    }
    EXPECT_GT(successes, 0); // some corruption lands in bytes nobody reads
}
