#include "drivers/pci/pci.hpp"

namespace halcyon::pci {
namespace {

constexpr uint8_t kMultiFunction = 0x80;
constexpr uint32_t kBarIo = 1u << 0;
constexpr uint32_t kBarTypeMask = 3u << 1;
constexpr uint32_t kBarType64 = 2u << 1;
constexpr uint32_t kBarPrefetchable = 1u << 3;

// The command register shares its dword with the status register, whose error bits are
// write-one-to-clear: write the command with zeros above it so no status bit is cleared.
void write_command(ConfigSpace& config, Address address, uint16_t command) {
    config.write32(address, kCommand, command);
}

} // namespace

std::optional<Function> probe(ConfigSpace& config, Address address) {
    const uint32_t id = config.read32(address, kVendorId);
    if ((id & 0xFFFF) == 0xFFFF || (id & 0xFFFF) == 0)
        return std::nullopt;
    Function function;
    function.address = address;
    function.vendor_id = static_cast<uint16_t>(id);
    function.device_id = static_cast<uint16_t>(id >> 16);
    const uint32_t class_revision = config.read32(address, kClassRevision);
    function.revision = static_cast<uint8_t>(class_revision);
    function.prog_if = static_cast<uint8_t>(class_revision >> 8);
    function.subclass = static_cast<uint8_t>(class_revision >> 16);
    function.class_code = static_cast<uint8_t>(class_revision >> 24);
    function.header_type = config.read8(address, kHeaderType) & ~kMultiFunction;
    if (function.header_type == 0) {
        function.subsystem_vendor_id = config.read16(address, kSubsystemVendorId);
        function.subsystem_id = config.read16(address, kSubsystemId);
    }
    return function;
}

size_t enumerate(ConfigSpace& config, std::span<Function> out) {
    size_t found = 0;
    auto record = [&](const Function& function) {
        if (found < out.size())
            out[found] = function;
        ++found;
    };
    for (uint32_t bus = 0; bus < 256; ++bus) {
        for (uint8_t device = 0; device < 32; ++device) {
            const Address first{static_cast<uint8_t>(bus), device, 0};
            const std::optional<Function> function0 = probe(config, first);
            if (!function0)
                continue;
            record(*function0);
            // Functions 1..7 exist only behind the multi-function bit; without the check a
            // single-function device that ignores the function number would appear 8 times.
            if ((config.read8(first, kHeaderType) & kMultiFunction) == 0)
                continue;
            for (uint8_t function = 1; function < 8; ++function) {
                if (auto other = probe(config, {static_cast<uint8_t>(bus), device, function}))
                    record(*other);
            }
        }
    }
    return found;
}

ErrorOr<Bar> read_bar(ConfigSpace& config, Address address, uint8_t index) {
    if (index > 5)
        return Error(ErrorCode::invalid_argument, "BAR index is 0..5");
    const uint16_t offset = static_cast<uint16_t>(kBar0 + index * 4);
    const uint32_t original = config.read32(address, offset);
    Bar bar;
    bar.io = (original & kBarIo) != 0;
    bar.is_64bit = !bar.io && (original & kBarTypeMask) == kBarType64;
    bar.prefetchable = !bar.io && (original & kBarPrefetchable) != 0;
    if (bar.is_64bit && index == 5)
        return Error(ErrorCode::corrupt, "64-bit BAR in the last BAR slot");

    const uint16_t command = config.read16(address, kCommand);
    write_command(config, address,
                  command & ~static_cast<uint16_t>(kCommandIoSpace | kCommandMemorySpace));
    config.write32(address, offset, 0xFFFF'FFFFu);
    const uint32_t low_mask = config.read32(address, offset);
    config.write32(address, offset, original);
    uint32_t high = 0;
    uint32_t high_mask = 0xFFFF'FFFFu;
    if (bar.is_64bit) {
        high = config.read32(address, offset + 4);
        config.write32(address, offset + 4, 0xFFFF'FFFFu);
        high_mask = config.read32(address, offset + 4);
        config.write32(address, offset + 4, high);
    }
    write_command(config, address, command);

    if (bar.io) {
        const uint32_t mask = low_mask & ~3u;
        bar.base = original & ~3u;
        // I/O BARs may implement only 16 address bits; the upper ones read back as zero.
        const uint32_t size_mask = mask | 0xFFFF'0000u;
        bar.size = mask == 0 ? 0 : uint64_t(~size_mask + 1u) & 0xFFFF'FFFFu;
        return bar;
    }
    const uint64_t mask = (uint64_t(high_mask) << 32) | (low_mask & ~0xFu);
    bar.base = (uint64_t(high) << 32) | (original & ~0xFu);
    if ((low_mask & ~0xFu) == 0 && (!bar.is_64bit || high_mask == 0))
        bar.size = 0;
    else
        bar.size = ~mask + 1;
    return bar;
}

std::optional<uint8_t> find_capability(ConfigSpace& config, Address address, uint8_t id) {
    std::optional<uint8_t> result;
    for_each_capability(config, address, [&](uint8_t found_id, uint8_t offset) {
        if (found_id != id)
            return true;
        result = offset;
        return false;
    });
    return result;
}

InterruptCapabilities interrupt_capabilities(ConfigSpace& config, Address address) {
    InterruptCapabilities caps;
    caps.msi_offset = find_capability(config, address, kCapabilityMsi);
    caps.msix_offset = find_capability(config, address, kCapabilityMsix);
    if (caps.msix_offset) {
        // Message Control bits 10:0 = table size - 1; Table Offset/BIR at +4.
        const uint16_t control = config.read16(address, *caps.msix_offset + 2);
        caps.msix_table_size = static_cast<uint16_t>((control & 0x7FF) + 1);
        const uint32_t table = config.read32(address, *caps.msix_offset + 4);
        caps.msix_table_bar = static_cast<uint8_t>(table & 7);
        caps.msix_table_offset = table & ~7u;
    }
    return caps;
}

void enable_memory_and_bus_master(ConfigSpace& config, Address address) {
    const uint16_t command = config.read16(address, kCommand);
    write_command(config, address,
                  command | kCommandMemorySpace | kCommandBusMaster | kCommandInterruptDisable);
}

} // namespace halcyon::pci
