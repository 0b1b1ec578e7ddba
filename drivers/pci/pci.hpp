// PCI enumeration and the per-function basics every driver needs: identification, BAR sizing,
// the capability list (MSI/MSI-X found and reported) and enabling decoding + bus mastering.
// Pure code over ConfigSpace: host tests run it against a fake configuration space.
#pragma once

#include "drivers/pci/config_space.hpp"
#include "lib/base/error_or.hpp"

#include <optional>
#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::pci {

// Type 0/1 header offsets (PCI Local Bus 3.0, 6.1).
inline constexpr uint16_t kVendorId = 0x00;
inline constexpr uint16_t kDeviceId = 0x02;
inline constexpr uint16_t kCommand = 0x04;
inline constexpr uint16_t kStatus = 0x06;
inline constexpr uint16_t kClassRevision = 0x08;
inline constexpr uint16_t kHeaderType = 0x0E;
inline constexpr uint16_t kBar0 = 0x10;
inline constexpr uint16_t kSubsystemVendorId = 0x2C;
inline constexpr uint16_t kSubsystemId = 0x2E;
inline constexpr uint16_t kCapabilitiesPointer = 0x34;

inline constexpr uint16_t kCommandIoSpace = 1u << 0;
inline constexpr uint16_t kCommandMemorySpace = 1u << 1;
inline constexpr uint16_t kCommandBusMaster = 1u << 2;
inline constexpr uint16_t kCommandInterruptDisable = 1u << 10;
inline constexpr uint16_t kStatusCapabilitiesList = 1u << 4;

inline constexpr uint8_t kCapabilityMsi = 0x05;
inline constexpr uint8_t kCapabilityVendor = 0x09;
inline constexpr uint8_t kCapabilityMsix = 0x11;

struct Function {
    Address address;
    uint16_t vendor_id = 0;
    uint16_t device_id = 0;
    uint8_t class_code = 0;
    uint8_t subclass = 0;
    uint8_t prog_if = 0;
    uint8_t revision = 0;
    uint8_t header_type = 0; // without the multi-function bit
    uint16_t subsystem_vendor_id = 0;
    uint16_t subsystem_id = 0;
};

// Scans every bus/device/function through `config` (brute force over 256 buses: no bridge
// programming is assumed beyond what the firmware did). Writes up to out.size() functions and
// returns how many exist in total (more than out.size() means some were dropped).
[[nodiscard]] size_t enumerate(ConfigSpace& config, std::span<Function> out);

// Reads one function's identification; nullopt when nothing answers at `address`.
[[nodiscard]] std::optional<Function> probe(ConfigSpace& config, Address address);

struct Bar {
    uint64_t base = 0; // physical address (memory) or port (I/O)
    uint64_t size = 0; // 0: not implemented
    bool io = false;
    bool is_64bit = false;
    bool prefetchable = false;
};

// Reads and sizes BAR `index` (0..5) of a type 0 function. Sizing writes all-ones to the BAR,
// so memory and I/O decoding are switched off meanwhile and restored after. For the upper half
// of a 64-bit BAR, returns an unimplemented (size 0) BAR.
[[nodiscard]] ErrorOr<Bar> read_bar(ConfigSpace& config, Address address, uint8_t index);

// Walks the capability list: calls visit(id, offset) for each entry; stops early when visit
// returns false. Guards against loops and bad pointers of broken devices (at most 48 entries,
// offsets inside the device-specific area).
template <typename Visit>
void for_each_capability(ConfigSpace& config, Address address, Visit&& visit) {
    if ((config.read16(address, kStatus) & kStatusCapabilitiesList) == 0)
        return;
    uint8_t offset = config.read8(address, kCapabilitiesPointer) & 0xFC;
    for (int count = 0; offset >= 0x40 && count < 48; ++count) {
        const uint16_t header = config.read16(address, offset);
        if (!visit(static_cast<uint8_t>(header & 0xFF), offset))
            return;
        offset = static_cast<uint8_t>(header >> 8) & 0xFC;
    }
}

// Offset of the first capability with `id`, if any.
[[nodiscard]] std::optional<uint8_t> find_capability(ConfigSpace& config, Address address,
                                                     uint8_t id);

// What the function offers for message-signalled interrupts (reported; drivers poll for now).
struct InterruptCapabilities {
    std::optional<uint8_t> msi_offset;
    std::optional<uint8_t> msix_offset;
    uint16_t msix_table_size = 0; // vectors
    uint8_t msix_table_bar = 0;
    uint32_t msix_table_offset = 0;
};
[[nodiscard]] InterruptCapabilities interrupt_capabilities(ConfigSpace& config, Address address);

// Turns on memory decoding and bus mastering (DMA), and masks INTx: a polled driver must not
// leave a level-triggered line asserted for nobody.
void enable_memory_and_bus_master(ConfigSpace& config, Address address);

} // namespace halcyon::pci
