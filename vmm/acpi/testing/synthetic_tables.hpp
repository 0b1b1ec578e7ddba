// Synthetic ACPI tables for host unit tests: a fake physical memory and byte-level builders
// for tables and MADT entries, with checksums filled in. Test-only (host world); built from the
// layouts in tables.hpp, never from real firmware images.
#pragma once

#include "vmm/acpi/acpi.hpp"
#include "vmm/acpi/tables.hpp"

#include <cstring>
#include <map>
#include <utility>
#include <vector>

namespace halcyon::acpi::testing {

using Bytes = std::vector<uint8_t>;

// Each region is its own exactly-sized heap buffer, so any read past what a table provides is
// caught by ASan as well as by the view's own bounds.
class FakeMemory final : public PhysicalView {
public:
    void place(uint64_t base, Bytes bytes) { regions_[base] = std::move(bytes); }
    Bytes& at(uint64_t base) { return regions_.at(base); }

    ErrorOr<std::span<const uint8_t>> read(uint64_t physical, uint64_t length) const override {
        for (const auto& [base, bytes] : regions_) {
            if (physical >= base && physical - base <= bytes.size() &&
                length <= bytes.size() - (physical - base))
                return std::span<const uint8_t>(bytes.data() + (physical - base), length);
        }
        return Error(ErrorCode::out_of_range, "not in fake memory");
    }

private:
    std::map<uint64_t, Bytes> regions_;
};

inline void put(Bytes& out, uint64_t value, size_t size) {
    for (size_t i = 0; i < size; ++i)
        out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}
inline void put_string(Bytes& out, const char* text) {
    out.insert(out.end(), text, text + std::strlen(text));
}

inline void fix_checksum(Bytes& table, size_t checksum_offset = 9, size_t length = 0) {
    if (length == 0)
        length = table.size();
    table[checksum_offset] = 0;
    uint8_t sum = 0;
    for (size_t i = 0; i < length; ++i)
        sum = static_cast<uint8_t>(sum + table[i]);
    table[checksum_offset] = static_cast<uint8_t>(-sum);
}

inline Bytes make_table(const char* signature, const Bytes& body, uint8_t revision = 1) {
    Bytes table;
    put_string(table, signature);
    put(table, 36 + body.size(), 4);
    put(table, revision, 1);
    put(table, 0, 1); // checksum, fixed below
    put_string(table, "BOCHS ");
    put_string(table, "BXPC    ");
    put(table, 1, 4);
    put(table, 0x43505842, 4);
    put(table, 1, 4);
    table.insert(table.end(), body.begin(), body.end());
    fix_checksum(table);
    return table;
}

inline Bytes make_rsdp(uint8_t revision, uint32_t rsdt, uint64_t xsdt) {
    Bytes rsdp;
    put_string(rsdp, "RSD PTR ");
    put(rsdp, 0, 1);
    put_string(rsdp, "BOCHS ");
    put(rsdp, revision, 1);
    put(rsdp, rsdt, 4);
    if (revision >= 2) {
        put(rsdp, 36, 4);
        put(rsdp, xsdt, 8);
        put(rsdp, 0, 4);
        fix_checksum(rsdp, 32);
    }
    fix_checksum(rsdp, 8, 20);
    if (revision >= 2)
        fix_checksum(rsdp, 32); // the extended sum covers the first checksum byte too
    return rsdp;
}

inline void lapic(Bytes& madt, uint8_t uid, uint8_t apic_id, uint32_t flags) {
    put(madt, kMadtLocalApic, 1);
    put(madt, 8, 1);
    put(madt, uid, 1);
    put(madt, apic_id, 1);
    put(madt, flags, 4);
}
inline void x2apic(Bytes& madt, uint32_t uid, uint32_t apic_id, uint32_t flags) {
    put(madt, kMadtLocalX2Apic, 1);
    put(madt, 16, 1);
    put(madt, 0, 2);
    put(madt, apic_id, 4);
    put(madt, flags, 4);
    put(madt, uid, 4);
}
inline void ioapic(Bytes& madt, uint8_t id, uint32_t address, uint32_t gsi_base) {
    put(madt, kMadtIoApic, 1);
    put(madt, 12, 1);
    put(madt, id, 1);
    put(madt, 0, 1);
    put(madt, address, 4);
    put(madt, gsi_base, 4);
}
inline void override_entry(Bytes& madt, uint8_t irq, uint32_t gsi, uint16_t flags) {
    put(madt, kMadtInterruptOverride, 1);
    put(madt, 10, 1);
    put(madt, 0, 1);
    put(madt, irq, 1);
    put(madt, gsi, 4);
    put(madt, flags, 2);
}
inline void lapic_nmi(Bytes& madt) {
    put(madt, kMadtLocalApicNmi, 1);
    put(madt, 6, 1);
    put(madt, 0xFF, 1);
    put(madt, 0, 2);
    put(madt, 1, 1);
}

} // namespace halcyon::acpi::testing
