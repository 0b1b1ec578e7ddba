#include "boot/uefi/exit_boot_services.hpp"

#include "boot/common/cpu.hpp"
#include "boot/uefi/firmware.hpp"
#include "boot/uefi/memory_map.hpp"

namespace halcyon::loader {

namespace {

struct MapBuffer {
    uint8_t* data = nullptr;
    efi::Uintn capacity = 0;
    efi::Uintn size = 0;
    efi::Uintn key = 0;
    efi::Uintn descriptor_size = 0;
};

// Room for this many more descriptors than the firmware asked for: our own allocations (and
// the firmware's, between calls) add entries.
constexpr efi::Uintn kSlackDescriptors = 32;

[[nodiscard]] ErrorOr<MapBuffer> allocate_map_buffer() {
    efi::BootServices* boot_services = firmware().boot_services;
    MapBuffer map;
    uint32_t version = 0;
    auto status =
        boot_services->get_memory_map(&map.size, nullptr, &map.key, &map.descriptor_size, &version);
    if (status != efi::Status::buffer_too_small || map.descriptor_size == 0)
        return status_error(status, "GetMemoryMap did not report the map size");
    map.capacity = map.size + kSlackDescriptors * map.descriptor_size;
    void* buffer = nullptr;
    status = boot_services->allocate_pool(static_cast<uint32_t>(efi::MemoryType::loader_data),
                                          map.capacity, &buffer);
    if (efi::is_error(status))
        return status_error(status, "cannot allocate the memory map buffer");
    map.data = static_cast<uint8_t*>(buffer);
    return map;
}

[[nodiscard]] efi::Status read_map(MapBuffer& map) {
    uint32_t version = 0;
    map.size = map.capacity;
    return firmware().boot_services->get_memory_map(
        &map.size, reinterpret_cast<efi::MemoryDescriptor*>(map.data), &map.key,
        &map.descriptor_size, &version);
}

} // namespace

ErrorOr<uint64_t> highest_physical_address() {
    MapBuffer map = TRY(allocate_map_buffer());
    auto status = read_map(map);
    uint64_t highest = highest_memory_map_address({map.data, map.size}, map.descriptor_size);
    (void)firmware().boot_services->free_pool(map.data);
    if (efi::is_error(status))
        return status_error(status, "GetMemoryMap failed");
    return highest;
}

ErrorOr<void> exit_boot_services(handoff::Handoff& handoff) {
    MapBuffer map = TRY(allocate_map_buffer());
    // The normalized map never has more regions than the firmware has descriptors.
    uint64_t region_capacity = map.capacity / map.descriptor_size;
    auto* regions = reinterpret_cast<handoff::MemoryRegion*>(TRY(allocate_pages(
        pages_for(region_capacity * sizeof(handoff::MemoryRegion)), handoff::kEfiTypeBootData)));

    // GetMemoryMap and ExitBootServices must be back to back; if the firmware changed the map
    // in between (an event allocated memory), ExitBootServices fails with
    // EFI_INVALID_PARAMETER and we must fetch the map again, with no other calls in between.
    efi::Handle image = firmware().image;
    efi::BootServices* boot_services = firmware().boot_services;
    efi::Status status = efi::Status::invalid_parameter;
    for (int attempt = 0; attempt < 8; ++attempt) {
        status = read_map(map);
        if (efi::is_error(status))
            break;
        status = boot_services->exit_boot_services(image, map.key);
        if (status != efi::Status::invalid_parameter)
            break;
    }
    if (efi::is_error(status))
        return status_error(status, "ExitBootServices failed");

    asm volatile("cli");
    handoff.exit_boot_services_tsc = cpu::read_tsc();
    firmware().boot_services = nullptr; // from here on: no console, no allocation

    uint64_t count = TRY(normalize_memory_map({map.data, map.size}, map.descriptor_size,
                                              {regions, region_capacity}));
    handoff.memory_map = reinterpret_cast<uint64_t>(regions);
    handoff.memory_region_count = static_cast<uint32_t>(count);
    return {};
}

} // namespace halcyon::loader
