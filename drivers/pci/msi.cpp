#include "drivers/pci/msi.hpp"

#include "drivers/pci/pci.hpp"

namespace halcyon::pci {
namespace {

// MSI-X table entry dwords (PCIe 4.0, 7.7.2.8-7.7.2.10).
constexpr unsigned kEntryAddressLow = 0;
constexpr unsigned kEntryAddressHigh = 1;
constexpr unsigned kEntryData = 2;
constexpr unsigned kEntryControl = 3;
constexpr uint32_t kEntryMasked = 1u << 0;

bool is_power_of_two(unsigned value) {
    return value != 0 && (value & (value - 1)) == 0;
}

uint8_t log2_of(unsigned power_of_two) {
    uint8_t log = 0;
    while ((1u << log) < power_of_two)
        ++log;
    return log;
}

} // namespace

MsiMessage x86_message(uint8_t apic_id, uint8_t vector) {
    // Address: 0xFEE in bits 31:20, destination id in 19:12, redirection hint and destination
    // mode 0 (physical, exactly this APIC). Data: vector in 7:0, delivery mode 000 (fixed),
    // trigger mode 0 (edge; the level bit is then ignored).
    return {0xFEE0'0000u | uint64_t(apic_id) << 12, vector};
}

// ---- MSI ----

std::optional<MsiCapability> read_msi(ConfigSpace& config, Address address) {
    const std::optional<uint8_t> offset = find_capability(config, address, kCapabilityMsi);
    if (!offset)
        return std::nullopt;
    MsiCapability msi;
    msi.offset = *offset;
    const uint16_t control = config.read16(address, msi.control_offset());
    msi.address_64bit = (control & kMsiControl64Bit) != 0;
    msi.per_vector_masking = (control & kMsiControlPerVectorMask) != 0;
    // Encodings 110b and 111b are reserved; read them as the 32 vectors the field tops out at.
    const unsigned capable = (control >> kMsiControlCapableShift) & 7;
    msi.vectors_capable = static_cast<uint8_t>(1u << (capable > 5 ? 5 : capable));
    msi.enabled = (control & kMsiControlEnable) != 0;
    const unsigned enabled = (control >> kMsiControlEnableShift) & 7;
    msi.vectors_enabled = static_cast<uint8_t>(1u << (enabled > 5 ? 5 : enabled));
    return msi;
}

ErrorOr<void> enable_msi(ConfigSpace& config, Address address, const MsiCapability& msi,
                         MsiMessage message, uint8_t vectors) {
    if (!is_power_of_two(vectors) || vectors > msi.vectors_capable)
        return Error(ErrorCode::invalid_argument,
                     "MSI vector count must be a power of two the function offers");
    if ((message.data & (vectors - 1u)) != 0 || message.data > 0xFFFF)
        return Error(ErrorCode::invalid_argument,
                     "MSI data must be 16-bit with its low bits free for the vector number");
    if ((message.address & 3) != 0)
        return Error(ErrorCode::invalid_argument, "MSI address must be dword aligned");
    if (!msi.address_64bit && message.address > 0xFFFF'FFFFu)
        return Error(ErrorCode::invalid_argument, "MSI address above 4 GiB needs 64-bit MSI");

    uint16_t control = config.read16(address, msi.control_offset());
    control = static_cast<uint16_t>(control & ~kMsiControlEnable);
    config.write16(address, msi.control_offset(), control);
    config.write32(address, msi.address_offset(), static_cast<uint32_t>(message.address));
    if (msi.address_64bit)
        config.write32(address, msi.address_offset() + 4,
                       static_cast<uint32_t>(message.address >> 32));
    config.write16(address, msi.data_offset(), static_cast<uint16_t>(message.data));
    control = static_cast<uint16_t>((control & ~(7u << kMsiControlEnableShift)) |
                                    uint16_t(log2_of(vectors)) << kMsiControlEnableShift |
                                    kMsiControlEnable);
    config.write16(address, msi.control_offset(), control);
    return {};
}

void disable_msi(ConfigSpace& config, Address address, const MsiCapability& msi) {
    const uint16_t control = config.read16(address, msi.control_offset());
    config.write16(address, msi.control_offset(),
                   static_cast<uint16_t>(control & ~kMsiControlEnable));
}

ErrorOr<void> set_msi_masked(ConfigSpace& config, Address address, const MsiCapability& msi,
                             uint8_t vector, bool masked) {
    if (!msi.per_vector_masking)
        return Error(ErrorCode::not_supported, "this function's MSI has no per-vector masking");
    if (vector >= msi.vectors_capable)
        return Error(ErrorCode::out_of_range, "MSI vector beyond what the function offers");
    uint32_t bits = config.read32(address, msi.mask_offset());
    bits = masked ? bits | (1u << vector) : bits & ~(1u << vector);
    config.write32(address, msi.mask_offset(), bits);
    return {};
}

ErrorOr<bool> msi_masked(ConfigSpace& config, Address address, const MsiCapability& msi,
                         uint8_t vector) {
    if (!msi.per_vector_masking)
        return Error(ErrorCode::not_supported, "this function's MSI has no per-vector masking");
    if (vector >= msi.vectors_capable)
        return Error(ErrorCode::out_of_range, "MSI vector beyond what the function offers");
    return ((config.read32(address, msi.mask_offset()) >> vector) & 1) != 0;
}

// ---- MSI-X ----

std::optional<MsixCapability> read_msix(ConfigSpace& config, Address address) {
    const std::optional<uint8_t> offset = find_capability(config, address, kCapabilityMsix);
    if (!offset)
        return std::nullopt;
    MsixCapability msix;
    msix.offset = *offset;
    const uint16_t control = config.read16(address, msix.control_offset());
    msix.table_size = static_cast<uint16_t>((control & kMsixControlTableSizeMask) + 1);
    msix.enabled = (control & kMsixControlEnable) != 0;
    msix.function_masked = (control & kMsixControlFunctionMask) != 0;
    const uint32_t table = config.read32(address, *offset + 4);
    msix.table_bar = static_cast<uint8_t>(table & 7);
    msix.table_offset = table & ~7u;
    const uint32_t pba = config.read32(address, *offset + 8);
    msix.pba_bar = static_cast<uint8_t>(pba & 7);
    msix.pba_offset = pba & ~7u;
    return msix;
}

void set_msix_control(ConfigSpace& config, Address address, const MsixCapability& msix, bool enable,
                      bool function_masked) {
    uint16_t control = config.read16(address, msix.control_offset());
    control = static_cast<uint16_t>(control & ~(kMsixControlEnable | kMsixControlFunctionMask));
    if (enable)
        control |= kMsixControlEnable;
    if (function_masked)
        control |= kMsixControlFunctionMask;
    config.write16(address, msix.control_offset(), control);
}

ErrorOr<MsixWindow> msix_table_window(ConfigSpace& config, Address address,
                                      const MsixCapability& msix) {
    if (msix.table_bar > 5)
        return Error(ErrorCode::corrupt, "MSI-X table names a reserved BAR (BIR > 5)");
    const Bar bar = TRY(read_bar(config, address, msix.table_bar));
    if (bar.size == 0 || bar.io)
        return Error(ErrorCode::corrupt, "MSI-X table BAR is not an implemented memory BAR");
    if (bar.base == 0)
        return Error(ErrorCode::not_found, "MSI-X table BAR has no address assigned");
    if (uint64_t(msix.table_offset) + msix.table_bytes() > bar.size)
        return Error(ErrorCode::corrupt, "MSI-X table extends past the end of its BAR");
    return MsixWindow{bar.base + msix.table_offset, msix.table_bytes()};
}

volatile uint32_t* MsixTable::entry(uint16_t vector) const {
    return reinterpret_cast<volatile uint32_t*>(table_ + size_t(vector) * 16);
}

ErrorOr<void> MsixTable::program(uint16_t vector, MsiMessage message) {
    if (vector >= size_)
        return Error(ErrorCode::out_of_range, "MSI-X vector beyond the table");
    if ((message.address & 3) != 0)
        return Error(ErrorCode::invalid_argument, "MSI-X address must be dword aligned");
    volatile uint32_t* e = entry(vector);
    e[kEntryAddressLow] = static_cast<uint32_t>(message.address);
    e[kEntryAddressHigh] = static_cast<uint32_t>(message.address >> 32);
    e[kEntryData] = message.data;
    return {};
}

ErrorOr<void> MsixTable::set_masked(uint16_t vector, bool masked) {
    if (vector >= size_)
        return Error(ErrorCode::out_of_range, "MSI-X vector beyond the table");
    volatile uint32_t* e = entry(vector);
    // The other control bits are reserved: preserve them (PCIe 4.0, 7.7.2.10).
    const uint32_t control = e[kEntryControl];
    e[kEntryControl] = masked ? control | kEntryMasked : control & ~kEntryMasked;
    return {};
}

ErrorOr<bool> MsixTable::masked(uint16_t vector) const {
    if (vector >= size_)
        return Error(ErrorCode::out_of_range, "MSI-X vector beyond the table");
    return (entry(vector)[kEntryControl] & kEntryMasked) != 0;
}

ErrorOr<MsiMessage> MsixTable::message(uint16_t vector) const {
    if (vector >= size_)
        return Error(ErrorCode::out_of_range, "MSI-X vector beyond the table");
    volatile uint32_t* e = entry(vector);
    const uint64_t low = e[kEntryAddressLow];
    const uint64_t high = e[kEntryAddressHigh];
    return MsiMessage{high << 32 | low, e[kEntryData]};
}

void MsixTable::mask_all() {
    for (uint16_t vector = 0; vector < size_; ++vector)
        (void)set_masked(vector, true);
}

void disable_message_interrupts(ConfigSpace& config, Address address) {
    if (const std::optional<MsiCapability> msi = read_msi(config, address); msi && msi->enabled)
        disable_msi(config, address, *msi);
    if (const std::optional<MsixCapability> msix = read_msix(config, address);
        msix && msix->enabled)
        set_msix_control(config, address, *msix, false, false);
}

} // namespace halcyon::pci
