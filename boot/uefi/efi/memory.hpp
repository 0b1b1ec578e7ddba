// UEFI memory types and the memory map descriptor (UEFI 2.10, section 7.2, GetMemoryMap()).
// Pure data: also compiled in the host world for the memory-map normalization tests.
#pragma once

#include <stdint.h>

namespace halcyon::efi {

// EFI_MEMORY_TYPE. Values from 0x80000000 up belong to the OS loader (see handoff.hpp).
enum class MemoryType : uint32_t {
    reserved = 0,
    loader_code = 1,
    loader_data = 2,
    boot_services_code = 3,
    boot_services_data = 4,
    runtime_services_code = 5,
    runtime_services_data = 6,
    conventional = 7,
    unusable = 8,
    acpi_reclaim = 9,
    acpi_nvs = 10,
    mmio = 11,
    mmio_port_space = 12,
    pal_code = 13,
    persistent = 14,
    unaccepted = 15,
};

// EFI_ALLOCATE_TYPE.
enum class AllocateType : uint32_t { any_pages = 0, max_address = 1, address = 2 };

// EFI_MEMORY_DESCRIPTOR. The firmware may return larger descriptors than this (the size it
// reports in GetMemoryMap's DescriptorSize is the stride), so never index an array of these.
struct MemoryDescriptor {
    uint32_t type; // a MemoryType, or an OS/OEM-defined value
    uint32_t pad;
    uint64_t physical_start;
    uint64_t virtual_start;
    uint64_t page_count; // 4 KiB pages
    uint64_t attribute;  // EFI_MEMORY_UC/WC/WT/WB/... bits
};
static_assert(sizeof(MemoryDescriptor) == 40);

inline constexpr uint64_t kPageSize = 4096;

} // namespace halcyon::efi
