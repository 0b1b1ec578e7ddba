// MADT walker. The entry list is a run of variable-length records, each naming its own length;
// a record that is too short for its type, runs past the table, or claims length zero (which
// would make a naive walker spin forever) makes the whole table corrupt.
#include "vmm/acpi/parsers.hpp"
#include "vmm/acpi/tables.hpp"

namespace halcyon::acpi {
namespace {

// Firmware sometimes lists a CPU twice (as a local APIC and as an x2APIC); keep the first.
bool has_cpu(const Machine& out, uint32_t apic_id) {
    for (uint32_t i = 0; i < out.cpu_count; ++i) {
        if (out.cpus[i].apic_id == apic_id)
            return true;
    }
    return false;
}

void add_cpu(Machine& out, uint32_t apic_id, uint32_t uid, uint32_t flags, bool x2apic) {
    if (has_cpu(out, apic_id))
        return;
    if (out.cpu_count == kMaxCpus) {
        ++out.cpus_dropped; // boot with the first kMaxCpus rather than refusing the machine
        return;
    }
    out.cpus[out.cpu_count++] = Cpu{
        .apic_id = apic_id,
        .processor_uid = uid,
        .enabled = (flags & kLocalApicEnabled) != 0,
        .online_capable = (flags & kLocalApicOnlineCapable) != 0,
        .x2apic = x2apic,
    };
}

template <typename Entry>
ErrorOr<Entry> entry_as(std::span<const uint8_t> entry) {
    Entry typed;
    if (!load(entry, 0, typed))
        return Error(ErrorCode::corrupt, "MADT entry shorter than its type requires");
    return typed;
}

ErrorOr<void> parse_entry(std::span<const uint8_t> entry, Machine& out) {
    switch (entry[0]) {
    case kMadtLocalApic: {
        auto lapic = TRY(entry_as<MadtLocalApic>(entry));
        add_cpu(out, lapic.apic_id, lapic.processor_uid, lapic.flags, false);
        return {};
    }
    case kMadtLocalX2Apic: {
        auto x2apic = TRY(entry_as<MadtLocalX2Apic>(entry));
        add_cpu(out, x2apic.x2apic_id, x2apic.processor_uid, x2apic.flags, true);
        return {};
    }
    case kMadtIoApic: {
        auto ioapic = TRY(entry_as<MadtIoApic>(entry));
        if (out.io_apic_count == kMaxIoApics)
            return Error(ErrorCode::out_of_range, "MADT lists more IO APICs than Halcyon supports");
        out.io_apics[out.io_apic_count++] =
            IoApic{.id = ioapic.id, .address = ioapic.address, .gsi_base = ioapic.gsi_base};
        return {};
    }
    case kMadtInterruptOverride: {
        auto source = TRY(entry_as<MadtInterruptOverride>(entry));
        if (out.override_count == kMaxOverrides)
            return Error(ErrorCode::out_of_range,
                         "MADT lists more interrupt overrides than Halcyon supports");
        out.overrides[out.override_count++] = InterruptOverride{
            .source_irq = source.source, .gsi = source.gsi, .flags = source.flags};
        return {};
    }
    case kMadtLocalApicAddressOverride: {
        auto address = TRY(entry_as<MadtLocalApicAddressOverride>(entry));
        out.local_apic_address = address.address;
        return {};
    }
    // NMI wiring is not used yet, but the entries are still checked for their minimum size so a
    // malformed table is refused the same way whatever it contains.
    case kMadtNmiSource:
        TRY(entry_as<MadtNmiSource>(entry));
        return {};
    case kMadtLocalApicNmi:
        TRY(entry_as<MadtLocalApicNmi>(entry));
        return {};
    case kMadtLocalX2ApicNmi:
        TRY(entry_as<MadtLocalX2ApicNmi>(entry));
        return {};
    default:
        return {}; // types we do not use (GIC, multiprocessor wakeup, ...): skipped by length
    }
}

} // namespace

ErrorOr<void> parse_madt(std::span<const uint8_t> table, Machine& out) {
    MadtFixed fixed;
    if (!load(table, 0, fixed))
        return Error(ErrorCode::corrupt, "MADT shorter than its fixed part");
    out.local_apic_address = fixed.local_apic_address;
    out.has_legacy_pics = (fixed.flags & kMadtPcatCompat) != 0;

    size_t offset = sizeof(MadtFixed);
    while (offset < table.size()) {
        MadtEntryHeader header;
        if (!load(table, offset, header))
            return Error(ErrorCode::corrupt, "MADT entry header runs past the table");
        if (header.length < sizeof(MadtEntryHeader))
            return Error(ErrorCode::corrupt, "MADT entry with a length below 2");
        if (header.length > table.size() - offset)
            return Error(ErrorCode::corrupt, "MADT entry runs past the table");
        TRY(parse_entry(table.subspan(offset, header.length), out));
        offset += header.length;
    }
    if (out.cpu_count == 0)
        return Error(ErrorCode::not_found, "MADT lists no processors");
    return {};
}

} // namespace halcyon::acpi
