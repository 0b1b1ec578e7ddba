// Message-signalled interrupts (PCI Local Bus 3.0, 6.8; PCIe 4.0, 7.7.1-7.7.2): parsing the
// MSI and MSI-X capabilities and programming them. Pure code over ConfigSpace, and for the
// MSI-X table over a mapping the caller made of the table's BAR (MsixTable), so host tests run
// it against fakes.
//
// Nothing here decides where interrupts go: the caller builds the message (x86_message() for a
// local APIC) from the vector its interrupt controller set aside.
#pragma once

#include "drivers/pci/config_space.hpp"
#include "lib/base/error_or.hpp"

#include <optional>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::pci {

// The address/data pair a function writes to signal an interrupt.
struct MsiMessage {
    uint64_t address = 0;
    uint32_t data = 0;

    friend bool operator==(const MsiMessage&, const MsiMessage&) = default;
};

// x86 (Intel SDM vol. 3, 11.11; AMD APM vol. 2, 16.7): a fixed, edge-triggered interrupt at
// `vector` to the local APIC with physical id `apic_id` (8-bit xAPIC destination).
[[nodiscard]] MsiMessage x86_message(uint8_t apic_id, uint8_t vector);

// ---- MSI ----

struct MsiCapability {
    uint8_t offset = 0;
    bool address_64bit = false;
    bool per_vector_masking = false;
    uint8_t vectors_capable = 1; // Multiple Message Capable: 1, 2, 4, 8, 16 or 32
    bool enabled = false;
    uint8_t vectors_enabled = 1; // Multiple Message Enable

    // Register offsets inside configuration space (they move with the 64-bit address).
    [[nodiscard]] uint16_t control_offset() const { return offset + 2; }
    [[nodiscard]] uint16_t address_offset() const { return offset + 4; }
    [[nodiscard]] uint16_t data_offset() const { return offset + (address_64bit ? 12 : 8); }
    [[nodiscard]] uint16_t mask_offset() const { return offset + (address_64bit ? 16 : 12); }
    [[nodiscard]] uint16_t pending_offset() const { return offset + (address_64bit ? 20 : 16); }
};

inline constexpr uint16_t kMsiControlEnable = 1u << 0;
inline constexpr uint16_t kMsiControlCapableShift = 1; // bits 3:1, log2 of vectors
inline constexpr uint16_t kMsiControlEnableShift = 4;  // bits 6:4
inline constexpr uint16_t kMsiControl64Bit = 1u << 7;
inline constexpr uint16_t kMsiControlPerVectorMask = 1u << 8;

// The MSI capability of `address`, if it has one.
[[nodiscard]] std::optional<MsiCapability> read_msi(ConfigSpace& config, Address address);

// Programs `message` for `vectors` consecutive vectors (a power of two no larger than the
// capability offers; the function puts the vector number in the low bits of data, so those
// must be zero) and enables MSI. Disabled while the address and data change, so a half-written
// message is never sent. Fails with invalid_argument for a count, data or address the
// capability cannot take (an address above 4 GiB without 64-bit support).
[[nodiscard]] ErrorOr<void> enable_msi(ConfigSpace& config, Address address,
                                       const MsiCapability& msi, MsiMessage message,
                                       uint8_t vectors = 1);
void disable_msi(ConfigSpace& config, Address address, const MsiCapability& msi);

// Per-vector masking (only when the capability has it: not_supported otherwise).
[[nodiscard]] ErrorOr<void> set_msi_masked(ConfigSpace& config, Address address,
                                           const MsiCapability& msi, uint8_t vector, bool masked);
[[nodiscard]] ErrorOr<bool> msi_masked(ConfigSpace& config, Address address,
                                       const MsiCapability& msi, uint8_t vector);

// ---- MSI-X ----

struct MsixCapability {
    uint8_t offset = 0;
    uint16_t table_size = 0; // vectors, 1..2048
    uint8_t table_bar = 0;   // BAR index (BIR) 0..5
    uint32_t table_offset = 0;
    uint8_t pba_bar = 0;
    uint32_t pba_offset = 0;
    bool enabled = false;
    bool function_masked = false;

    [[nodiscard]] uint16_t control_offset() const { return offset + 2; }
    [[nodiscard]] uint32_t table_bytes() const { return uint32_t(table_size) * 16; }
    [[nodiscard]] uint32_t pba_bytes() const { return ((uint32_t(table_size) + 63) / 64) * 8; }
};

inline constexpr uint16_t kMsixControlTableSizeMask = 0x7FF;
inline constexpr uint16_t kMsixControlFunctionMask = 1u << 14;
inline constexpr uint16_t kMsixControlEnable = 1u << 15;

// The MSI-X capability of `address`, if it has one. A BIR above 5 (reserved) is reported as a
// corrupt capability by msix_table_window(), not here.
[[nodiscard]] std::optional<MsixCapability> read_msix(ConfigSpace& config, Address address);

// Enable and Function Mask together. The usual sequence (PCIe 4.0, 6.1.4.5): enable with the
// function masked, program and unmask entries through MsixTable, then clear the function mask.
// Enabling MSI-X also stops the function from using INTx and MSI.
void set_msix_control(ConfigSpace& config, Address address, const MsixCapability& msix, bool enable,
                      bool function_masked);

// Where the table lives: physical address and size, checked against the BAR it names (sized by
// read_bar, so memory decoding blinks off meanwhile: call before the device is in use).
struct MsixWindow {
    uint64_t physical = 0;
    uint32_t bytes = 0;
};
[[nodiscard]] ErrorOr<MsixWindow> msix_table_window(ConfigSpace& config, Address address,
                                                    const MsixCapability& msix);

// One MSI-X table, mapped uncached by the caller (16 bytes per entry: address low, address
// high, data, vector control whose bit 0 masks the entry). Only dword accesses, as the spec
// requires of software.
class MsixTable {
public:
    MsixTable() = default;
    MsixTable(volatile uint8_t* table, uint16_t size) : table_(table), size_(size) {}

    [[nodiscard]] uint16_t size() const { return size_; }
    // Writes the message of `vector`, leaving its mask as it is (program masked entries, then
    // unmask, so the function never sends a half-written message).
    [[nodiscard]] ErrorOr<void> program(uint16_t vector, MsiMessage message);
    [[nodiscard]] ErrorOr<void> set_masked(uint16_t vector, bool masked);
    [[nodiscard]] ErrorOr<bool> masked(uint16_t vector) const;
    [[nodiscard]] ErrorOr<MsiMessage> message(uint16_t vector) const;
    // Masks every entry (a known state before enabling).
    void mask_all();

private:
    [[nodiscard]] volatile uint32_t* entry(uint16_t vector) const;

    volatile uint8_t* table_ = nullptr;
    uint16_t size_ = 0;
};

// A polled driver's safe state: MSI and MSI-X both disabled (firmware or a previous owner may
// have left them on, pointing anywhere).
void disable_message_interrupts(ConfigSpace& config, Address address);

} // namespace halcyon::pci
