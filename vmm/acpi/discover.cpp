// discover(): RSDP -> XSDT/RSDT -> the tables Halcyon uses. Every table is read twice through the
// PhysicalView: first its header, to learn its length, then exactly that many bytes, which are
// checksummed before any field inside is trusted.
#include "vmm/acpi/acpi.hpp"
#include "vmm/acpi/parsers.hpp"
#include "vmm/acpi/tables.hpp"

namespace halcyon::acpi {
namespace {

// No real table comes near this (large DSDTs are a few hundred KiB); a bigger length is a
// corrupt header, not a reason to map half the address space.
constexpr uint64_t kMaxTableLength = 16ULL << 20;
constexpr uint32_t kMaxRsdpLength = 4096;

void note_problem(Machine& out, const char* signature) {
    for (size_t i = 0; i < 4; ++i)
        out.problem_table[i] = signature[i];
    out.problem_table[4] = '\0';
}

ErrorOr<std::span<const uint8_t>> read_exact(const PhysicalView& memory, uint64_t physical,
                                             uint64_t length) {
    auto bytes = TRY(memory.read(physical, length));
    if (bytes.size() != length)
        return Error(ErrorCode::io, "physical memory view returned a short read");
    return bytes;
}

// Reads one whole table and checks its signature, length and checksum.
ErrorOr<std::span<const uint8_t>> read_table(const PhysicalView& memory, uint64_t physical,
                                             const char* signature) {
    if (physical == 0)
        return Error(ErrorCode::not_found, "ACPI table address is zero");
    auto head = TRY(read_exact(memory, physical, sizeof(SdtHeader)));
    SdtHeader header;
    if (!load(head, 0, header))
        return Error(ErrorCode::io, "physical memory view returned a short read");
    if (!signature_is(header.signature, signature))
        return Error(ErrorCode::corrupt, "ACPI table has the wrong signature");
    if (header.length < sizeof(SdtHeader) || header.length > kMaxTableLength)
        return Error(ErrorCode::corrupt, "ACPI table length is impossible");
    auto table = TRY(read_exact(memory, physical, header.length));
    if (checksum(table) != 0)
        return Error(ErrorCode::corrupt, "ACPI table checksum mismatch");
    return table;
}

ErrorOr<Rsdp> read_rsdp(const PhysicalView& memory, uint64_t physical) {
    auto first = TRY(read_exact(memory, physical, kRsdpV1Size));
    Rsdp rsdp;
    __builtin_memset(&rsdp, 0, sizeof(rsdp));
    __builtin_memcpy(&rsdp, first.data(), kRsdpV1Size);
    const char* expected = "RSD PTR ";
    for (size_t i = 0; i < 8; ++i) {
        if (rsdp.signature[i] != expected[i])
            return Error(ErrorCode::corrupt, "RSDP signature is not 'RSD PTR '");
    }
    if (checksum(first) != 0)
        return Error(ErrorCode::corrupt, "RSDP checksum mismatch");
    if (rsdp.revision < 2)
        return rsdp; // ACPI 1.0: only the RSDT

    auto whole = TRY(read_exact(memory, physical, sizeof(Rsdp)));
    __builtin_memcpy(&rsdp, whole.data(), sizeof(Rsdp));
    if (rsdp.length < sizeof(Rsdp) || rsdp.length > kMaxRsdpLength)
        return Error(ErrorCode::corrupt, "RSDP length is impossible");
    auto extended = TRY(read_exact(memory, physical, rsdp.length));
    if (checksum(extended) != 0)
        return Error(ErrorCode::corrupt, "RSDP extended checksum mismatch");
    return rsdp;
}

// The root table's entries: 64-bit addresses (XSDT) or 32-bit ones (RSDT).
struct RootTable {
    std::span<const uint8_t> entries;
    size_t entry_size;

    [[nodiscard]] size_t count() const { return entries.size() / entry_size; }
    [[nodiscard]] uint64_t address(size_t index) const {
        uint64_t value = 0;
        for (size_t i = 0; i < entry_size; ++i)
            value |= static_cast<uint64_t>(entries[index * entry_size + i]) << (8 * i);
        return value;
    }
};

ErrorOr<RootTable> root_from(std::span<const uint8_t> table, size_t entry_size) {
    auto entries = table.subspan(sizeof(SdtHeader));
    if (entries.size() % entry_size != 0)
        return Error(ErrorCode::corrupt, "root table length is not a whole number of entries");
    return RootTable{entries, entry_size};
}

ErrorOr<RootTable> read_root_table(const PhysicalView& memory, uint64_t physical,
                                   const char* signature, size_t entry_size) {
    auto table = TRY(read_table(memory, physical, signature));
    return root_from(table, entry_size);
}

ErrorOr<RootTable> read_root(const PhysicalView& memory, const Rsdp& rsdp, Machine& out) {
    if (rsdp.revision >= 2 && rsdp.xsdt_address != 0) {
        auto xsdt = read_root_table(memory, rsdp.xsdt_address, "XSDT", 8);
        if (!xsdt.is_error()) {
            out.root_is_xsdt = true;
            return xsdt;
        }
        // Some firmware ships a broken XSDT next to a good RSDT; use the RSDT when there is one.
        if (rsdp.rsdt_address == 0) {
            note_problem(out, "XSDT");
            return xsdt.release_error();
        }
    }
    auto rsdt = read_root_table(memory, rsdp.rsdt_address, "RSDT", 4);
    if (rsdt.is_error())
        note_problem(out, "RSDT");
    return rsdt;
}

// The first table with `signature` listed in the root table. Entries whose header cannot be
// read are skipped: a bad pointer to some table Halcyon never uses must not stop the boot.
ErrorOr<std::span<const uint8_t>> find_table(const PhysicalView& memory, const RootTable& root,
                                             const char* signature, size_t& index) {
    for (; index < root.count(); ++index) {
        uint64_t address = root.address(index);
        if (address == 0)
            continue;
        auto head = memory.read(address, sizeof(SdtHeader));
        SdtHeader header;
        if (head.is_error() || !load(head.value(), 0, header))
            continue;
        if (signature_is(header.signature, signature))
            return read_table(memory, address, signature);
    }
    return Error(ErrorCode::not_found, "required ACPI table not listed in the root table");
}

ErrorOr<std::span<const uint8_t>> find_first(const PhysicalView& memory, const RootTable& root,
                                             const char* signature) {
    size_t index = 0;
    return find_table(memory, root, signature, index);
}

ErrorOr<void> parse_required(const PhysicalView& memory, const RootTable& root,
                             const char* signature,
                             ErrorOr<void> (*parse)(std::span<const uint8_t>, Machine&),
                             Machine& out) {
    auto table = find_first(memory, root, signature);
    if (table.is_error()) {
        note_problem(out, signature);
        return table.release_error();
    }
    auto parsed = parse(table.value(), out);
    if (parsed.is_error())
        note_problem(out, signature);
    return parsed;
}

void find_hpet(const PhysicalView& memory, const RootTable& root, Machine& out) {
    auto table = find_first(memory, root, "HPET");
    HpetTable hpet;
    if (table.is_error() || !load(table.value(), 0, hpet))
        return;
    if (hpet.base_address.space_id == kSpaceSystemMemory)
        out.hpet_address = hpet.base_address.address;
}

bool s5_from(std::span<const uint8_t> table, Machine& out) {
    auto found = find_s5_sleep_type(table.subspan(sizeof(SdtHeader)));
    if (found.is_error())
        return false;
    out.s5_valid = true;
    out.s5_sleep_type_a = found.value().a;
    out.s5_sleep_type_b = found.value().b;
    return true;
}

// \_S5 normally lives in the DSDT; some firmware moves it into an SSDT.
void find_s5(const PhysicalView& memory, const RootTable& root, Machine& out) {
    auto dsdt = read_table(memory, out.dsdt_address, "DSDT");
    if (!dsdt.is_error() && s5_from(dsdt.value(), out))
        return;
    for (size_t index = 0; index < root.count(); ++index) {
        auto ssdt = find_table(memory, root, "SSDT", index);
        if (ssdt.is_error()) {
            if (index >= root.count())
                return;
            continue; // a corrupt SSDT: try the next one
        }
        if (s5_from(ssdt.value(), out))
            return;
    }
}

} // namespace

ErrorOr<void> discover(uint64_t rsdp_physical, const PhysicalView& memory, Machine& out) {
    __builtin_memset(&out, 0, sizeof(out));

    auto rsdp = read_rsdp(memory, rsdp_physical);
    if (rsdp.is_error()) {
        note_problem(out, "RSDP");
        return rsdp.release_error();
    }
    out.revision = rsdp.value().revision;
    for (size_t i = 0; i < 6; ++i)
        out.oem_id[i] = rsdp.value().oem_id[i];
    out.oem_id[6] = '\0';

    auto root = TRY(read_root(memory, rsdp.value(), out));
    TRY(parse_required(memory, root, "APIC", parse_madt, out));
    TRY(parse_required(memory, root, "FACP", parse_fadt, out));
    find_hpet(memory, root, out);
    find_s5(memory, root, out);
    return {};
}

} // namespace halcyon::acpi
