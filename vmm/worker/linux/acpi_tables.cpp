#include "vmm/worker/linux/acpi_tables.hpp"

#include "vmm/acpi/tables.hpp"
#include "vmm/worker/linux/acpi_table_stream.hpp"
#include "vmm/worker/linux/aml.hpp"

namespace halcyon::worker::linux_boot {
namespace {

using namespace acpi;

constexpr uint64_t kRsdpAddress = kAcpiRegionStart;
constexpr uint64_t kXsdtAddress = kAcpiRegionStart + 0x40;
constexpr uint64_t kFacsAddress = kAcpiRegionStart + 0xC0;
constexpr uint64_t kFadtAddress = kAcpiRegionStart + 0x100;
constexpr uint64_t kDsdtAddress = kAcpiRegionStart + 0x240;
constexpr uint64_t kMadtAddress = kAcpiRegionStart + 0x300;
constexpr size_t kXsdtEntries = 2; // FADT, MADT
static_assert(kXsdtAddress + sizeof(SdtHeader) + 8 * kXsdtEntries <= kFacsAddress);
static_assert(kFadtAddress + sizeof(Fadt) <= kDsdtAddress);

// Firmware ACPI Control Structure (ACPI 6.5, 5.2.10): no checksum, 64-byte aligned. Nothing in
// it is used (no S4BIOS, no global lock owner, no waking vector), but a FADT of a machine that
// is not hardware-reduced must point at one.
struct [[gnu::packed]] Facs {
    char signature[4];
    uint32_t length;
    uint32_t hardware_signature;
    uint32_t firmware_waking_vector;
    uint32_t global_lock;
    uint32_t flags;
    uint64_t x_firmware_waking_vector;
    uint8_t version;
    uint8_t reserved0[3];
    uint32_t ospm_flags;
    uint8_t reserved1[24];
};
static_assert(sizeof(Facs) == 64);
static_assert(kFacsAddress % 64 == 0);

constexpr uint8_t kRsdpRevision = 2, kXsdtRevision = 1, kFadtRevision = 6, kFadtMinor = 5;
constexpr uint8_t kDsdtRevision = 2; // 2+: AML integers are 64 bits
constexpr uint8_t kMadtRevision = 5; // ACPI 6.3+ (online-capable flag defined)
constexpr uint8_t kFacsVersion = 2;

// FADT flags (ACPI 6.5, table 5.10) and IA-PC boot architecture flags (table 5.11).
constexpr uint32_t kFadtWbinvd = 1u << 0;
constexpr uint32_t kFadtProcessorC1 = 1u << 2;
constexpr uint32_t kFadtSleepButtonAbsent = 1u << 5; // no fixed-feature sleep button
constexpr uint32_t kFadtRtcWakeAbsent = 1u << 6;     // FIX_RTC: no RTC wake status bits
constexpr uint16_t kBootArchLegacyDevices = 1u << 0; // ISA devices (UART, PIT, RTC) exist
constexpr uint16_t kBootArchVgaAbsent = 1u << 2;     // 8042 bit (1) clear: no keyboard controller
constexpr uint8_t kAccessByte = 1, kAccessWord = 2, kAccessDword = 3;
// PM_LVL2_LAT > 100 and PM_LVL3_LAT > 1000 say "C2 / C3 not supported".
constexpr uint16_t kNoC2Latency = 101, kNoC3Latency = 1001;

template <size_t N>
void copy_chars(char (&field)[N], const char* text) {
    for (size_t i = 0; i < N; ++i)
        field[i] = text[i];
}

SdtHeader header(const char* signature, uint8_t revision) {
    SdtHeader h{};
    copy_chars(h.signature, signature);
    h.revision = revision;
    copy_chars(h.oem_id, "HALCYN");
    copy_chars(h.oem_table_id, "HALCYON ");
    h.oem_revision = 1;
    h.creator_id = 0x4E43'4C48; // "HLCN"
    h.creator_revision = 1;
    return h;
}

GenericAddress io_register(uint16_t port, uint8_t bytes, uint8_t access) {
    return GenericAddress{kSpaceSystemIo, static_cast<uint8_t>(bytes * 8), 0, access, port};
}

ErrorOr<void> write_rsdp(GuestMemoryWriter& memory) {
    Rsdp rsdp{};
    for (size_t i = 0; i < 8; ++i)
        rsdp.signature[i] = "RSD PTR "[i];
    copy_chars(rsdp.oem_id, "HALCYN");
    rsdp.revision = kRsdpRevision;
    rsdp.rsdt_address = 0; // ACPI 2.0+ readers use the XSDT
    rsdp.length = sizeof(Rsdp);
    rsdp.xsdt_address = kXsdtAddress;
    const auto* bytes = reinterpret_cast<const uint8_t*>(&rsdp);
    rsdp.checksum = static_cast<uint8_t>(-checksum({bytes, kRsdpV1Size}));
    rsdp.extended_checksum = static_cast<uint8_t>(-checksum({bytes, sizeof(Rsdp)}));
    return memory.write_object(kRsdpAddress, rsdp);
}

ErrorOr<void> write_xsdt(GuestMemoryWriter& memory) {
    TableStream<SdtHeader> xsdt(memory, kXsdtAddress, kFacsAddress);
    for (uint64_t table : {kFadtAddress, kMadtAddress})
        TRY(xsdt.append_object(table));
    TRY(xsdt.finish(header("XSDT", kXsdtRevision)));
    return {};
}

ErrorOr<void> write_facs(GuestMemoryWriter& memory) {
    Facs facs{};
    copy_chars(facs.signature, "FACS");
    facs.length = sizeof(Facs);
    facs.version = kFacsVersion;
    return memory.write_object(kFacsAddress, facs);
}

ErrorOr<void> write_fadt(GuestMemoryWriter& memory) {
    Fadt fadt{};
    fadt.header = header("FACP", kFadtRevision);
    // ACPI 6.5 5.2.9: X_FIRMWARE_CTRL must be zero when FIRMWARE_CTRL is set (Linux installs
    // the FACS twice otherwise); DSDT and X_DSDT may both be set and must then agree.
    fadt.firmware_ctrl = static_cast<uint32_t>(kFacsAddress);
    fadt.dsdt = static_cast<uint32_t>(kDsdtAddress);
    fadt.sci_interrupt = kSciInterrupt;
    fadt.smi_command = 0; // no SMM: ACPI is always enabled (SCI_EN reads 1)
    fadt.pm1a_event_block = kPm1aEventPort;
    fadt.pm1a_control_block = kPm1aControlPort;
    fadt.pm_timer_block = kPmTimerPort;
    fadt.pm1_event_length = 4;
    fadt.pm1_control_length = 2;
    fadt.pm_timer_length = 4;
    fadt.c2_latency = kNoC2Latency;
    fadt.c3_latency = kNoC3Latency;
    fadt.iapc_boot_arch = kBootArchLegacyDevices | kBootArchVgaAbsent;
    // PWR_BUTTON clear: the power button is the fixed feature (PM1 status bit 8).
    fadt.flags = kFadtWbinvd | kFadtProcessorC1 | kFadtSleepButtonAbsent | kFadtRtcWakeAbsent |
                 kFadtTimerValueExtended | kFadtResetRegisterSupported;
    fadt.reset_register = io_register(kResetPort, 1, kAccessByte);
    fadt.reset_value = kResetValue;
    fadt.minor_version = kFadtMinor;
    fadt.x_firmware_ctrl = 0;
    fadt.x_dsdt = kDsdtAddress;
    fadt.x_pm1a_event_block = io_register(kPm1aEventPort, 4, kAccessWord);
    fadt.x_pm1a_control_block = io_register(kPm1aControlPort, 2, kAccessWord);
    fadt.x_pm_timer_block = io_register(kPmTimerPort, 4, kAccessDword);
    fadt.hypervisor_vendor_id = 0x4E4F'5943'4C41'48ull; // "HALCYON"
    TableStream<Fadt> stream(memory, kFadtAddress, kDsdtAddress);
    TRY(stream.finish(fadt));
    return {};
}

// \_SB.VMBS. `_SB` is written without the root prefix: in the DSDT's root scope the two mean the
// same, and it is the form iasl emits, so a disassemble/recompile round trip gives our bytes.
ErrorOr<void> write_vmbus_device(AmlWriter& aml) {
    TRY(aml.open_scope("_SB"));
    TRY(aml.open_device(kVmbusDeviceName));
    TRY(aml.name_string("_HID", kVmbusHardwareId));
    TRY(aml.name_integer("_UID", 0));
    TRY(aml.name_string("_DDN", kVmbusDosDeviceName));
    TRY(aml.open_method("_STA", 0));
    TRY(aml.return_integer(kVmbusDeviceStatus));
    TRY(aml.close());
    TRY(aml.name_buffer("_CRS", aml::kEmptyResourceTemplate));
    TRY(aml.close());
    TRY(aml.close());
    return {};
}

ErrorOr<void> write_dsdt(GuestMemoryWriter& memory, const AcpiPlatform& platform) {
    uint8_t aml_bytes[kMadtAddress - kDsdtAddress - sizeof(SdtHeader)];
    AmlWriter aml(aml_bytes);
    TRY(aml.name_package("_S5", {kS5SleepType, kS5SleepType, 0, 0}));
    if (platform.vmbus)
        TRY(write_vmbus_device(aml));
    if (!aml.complete())
        return Error(ErrorCode::invalid_argument, "DSDT AML has an unclosed Scope/Device/Method");
    TableStream<SdtHeader> dsdt(memory, kDsdtAddress, kMadtAddress);
    TRY(dsdt.append(aml.bytes()));
    TRY(dsdt.finish(header("DSDT", kDsdtRevision)));
    return {};
}

ErrorOr<uint64_t> write_madt(GuestMemoryWriter& memory, uint32_t vcpu_count) {
    TableStream<MadtFixed> madt(memory, kMadtAddress, kAcpiRegionEnd);
    for (uint32_t index = 0; index < vcpu_count; ++index) {
        const auto id = static_cast<uint8_t>(index);
        TRY(madt.append_object(
            MadtLocalApic{{kMadtLocalApic, sizeof(MadtLocalApic)}, id, id, kLocalApicEnabled}));
    }
    TRY(madt.append_object(MadtIoApic{{kMadtIoApic, sizeof(MadtIoApic)},
                                      static_cast<uint8_t>(vcpu_count),
                                      0,
                                      kIoApicAddress,
                                      0}));
    constexpr uint8_t kIsaBus = 0;
    TRY(madt.append_object(
        MadtInterruptOverride{{kMadtInterruptOverride, sizeof(MadtInterruptOverride)},
                              kIsaBus,
                              0,
                              2,
                              kTimerOverrideFlags}));
    TRY(madt.append_object(
        MadtInterruptOverride{{kMadtInterruptOverride, sizeof(MadtInterruptOverride)},
                              kIsaBus,
                              9,
                              kSciInterrupt,
                              kSciOverrideFlags}));
    constexpr uint8_t kAllProcessors = 0xFF, kLint1 = 1;
    TRY(madt.append_object(MadtLocalApicNmi{
        {kMadtLocalApicNmi, sizeof(MadtLocalApicNmi)}, kAllProcessors, 0, kLint1}));
    return madt.finish(
        MadtFixed{header("APIC", kMadtRevision), kLocalApicAddress, kMadtPcatCompat});
}

} // namespace

ErrorOr<AcpiTables> write_acpi_tables(GuestMemoryWriter& memory, const AcpiPlatform& platform) {
    const uint32_t vcpu_count = platform.vcpu_count;
    if (vcpu_count == 0 || vcpu_count > kMaxAcpiVcpus)
        return Error(ErrorCode::out_of_range, "ACPI tables describe 1 to 254 vCPUs");
    TRY(write_rsdp(memory));
    TRY(write_xsdt(memory));
    TRY(write_facs(memory));
    TRY(write_fadt(memory));
    TRY(write_dsdt(memory, platform));
    const uint64_t end = TRY(write_madt(memory, vcpu_count));
    return AcpiTables{kRsdpAddress, kXsdtAddress, kFacsAddress, kFadtAddress,
                      kDsdtAddress, kMadtAddress, end};
}

} // namespace halcyon::worker::linux_boot
