// The hand-off from the UEFI loader to the core: everything the core learns about the machine
// before it owns it. Versioned so a loader and a core from different builds refuse each other
// clearly instead of misreading fields. Plain fixed-width fields only: the loader is built for
// an LLP64 target (PE32+) and the core for LP64 (ELF), and both must agree on every offset.
//
// All addresses here are physical. When the core is entered, the loader's page tables map all
// physical memory both 1:1 and at kDirectMapBase, and the core image at kCoreVirtualBase.
#pragma once

#include <stdint.h>

namespace halcyon::handoff {

inline constexpr uint64_t kMagic = 0x4E4F'5943'4C41'48ULL; // "HALCYON" little-endian
inline constexpr uint32_t kVersion = 1;

// Where the loader's page tables put things when it jumps into the core.
inline constexpr uint64_t kDirectMapBase = 0xFFFF'8000'0000'0000ULL;
inline constexpr uint64_t kCoreVirtualBase = 0xFFFF'FFFF'8000'0000ULL;

// UEFI lets an OS loader allocate pages with its own memory types (0x80000000 and up). The
// loader tags everything it hands to the core with these, so the core's frame allocator knows
// those pages are taken, even though the firmware's map only says "OS loader defined".
inline constexpr uint32_t kEfiTypeCoreImage = 0x8000'4801;  // the core's loaded segments
inline constexpr uint32_t kEfiTypeBootModule = 0x8000'4802; // files: config, core ELF, kernels
inline constexpr uint32_t kEfiTypeBootData =
    0x8000'4803; // hand-off, page tables, stack, AP trampoline

enum class MemoryType : uint32_t {
    usable = 1,           // free for the core (conventional, boot services, loader code/data)
    reserved = 2,         // never touch
    acpi_reclaimable = 3, // ACPI tables: keep until parsed
    acpi_nvs = 4,         // firmware's ACPI NVS: never touch
    mmio = 5,             // memory-mapped I/O ranges the firmware reported
    unusable = 6,         // memory with errors
    firmware_runtime = 7, // UEFI runtime services code and data
    core_image = 8,       // the core's own code and data
    boot_module = 9,      // files the loader loaded (see Module)
    boot_data = 10,  // this hand-off, the loader's page tables, the boot stack, the AP trampoline
    persistent = 11, // persistent memory (NVDIMM)
};

struct MemoryRegion {
    uint64_t physical_base;
    uint64_t page_count; // 4 KiB pages
    MemoryType type;
    uint32_t efi_type; // the firmware's own type, for diagnostics
    uint64_t efi_attributes;
};
static_assert(sizeof(MemoryRegion) == 32);

// A file the loader brought along: halcyon.cfg, the core's own ELF (for symbols in crash
// reports), and every kernel and initrd the configuration names.
struct Module {
    uint64_t physical_base; // page aligned
    uint64_t size;          // bytes
    char name[112];         // path as written in halcyon.cfg (or the file name), NUL terminated
};
static_assert(sizeof(Module) == 128);

enum class PixelFormat : uint32_t { none = 0, rgbx = 1, bgrx = 2, bitmask = 3 };

struct Framebuffer {
    uint64_t physical_base; // 0 when the firmware has no graphics output
    uint64_t size;
    uint32_t width;
    uint32_t height;
    uint32_t pixels_per_scanline;
    PixelFormat format;
};
static_assert(sizeof(Framebuffer) == 32);

enum class BootSource : uint32_t { unknown = 0, disk = 1, pxe = 2 };

struct Handoff {
    uint64_t magic;   // kMagic
    uint32_t version; // kVersion
    uint32_t size;    // sizeof(Handoff) as the loader built it

    uint64_t acpi_rsdp; // physical address of the RSDP (ACPI 2.0+ preferred), 0 if none
    Framebuffer framebuffer;

    uint64_t memory_map; // physical address of MemoryRegion[memory_region_count], sorted by base
    uint32_t memory_region_count;
    uint32_t module_count;
    uint64_t modules; // physical address of Module[module_count]

    uint64_t core_physical_base; // where the core's image lives (2 MiB aligned)
    uint64_t core_image_size;    // bytes, page rounded; mapped at kCoreVirtualBase
    uint64_t page_table_root;    // the loader's PML4 (CR3 at entry)
    uint64_t boot_stack_base;    // physical base of the boot stack
    uint64_t boot_stack_size;
    uint64_t ap_trampoline; // one 4 KiB page below 1 MiB, for starting application processors

    BootSource boot_source;
    uint32_t reserved0;
    uint64_t loader_start_tsc;       // TSC when the loader started
    uint64_t exit_boot_services_tsc; // TSC just after ExitBootServices
    char boot_path[128]; // where the loader found its files (device path or TFTP server)
};

// Looks up a module by exact name; nullptr when absent. Works on physical addresses read
// through whatever mapping the caller passes in `to_virtual`.
template <typename ToVirtual>
const Module* find_module(const Handoff& handoff, const char* name, ToVirtual to_virtual) {
    const auto* modules = static_cast<const Module*>(to_virtual(handoff.modules));
    for (uint32_t i = 0; i < handoff.module_count; ++i) {
        const char* a = modules[i].name;
        const char* b = name;
        while (*a && *a == *b) {
            ++a;
            ++b;
        }
        if (*a == *b)
            return &modules[i];
    }
    return nullptr;
}

} // namespace halcyon::handoff
