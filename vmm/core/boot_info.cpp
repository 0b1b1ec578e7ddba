#include "vmm/core/boot_info.hpp"

#include "vmm/arch/x86_64/tsc.hpp"
#include "vmm/core/log.hpp"

namespace halcyon::boot_info {
namespace {

using ull = unsigned long long;

const char* boot_source_name(handoff::BootSource source) {
    switch (source) {
    case handoff::BootSource::disk:
        return "disk";
    case handoff::BootSource::pxe:
        return "PXE";
    case handoff::BootSource::unknown:
        break;
    }
    return "unknown";
}

const char* pixel_format_name(handoff::PixelFormat format) {
    switch (format) {
    case handoff::PixelFormat::rgbx:
        return "RGBX";
    case handoff::PixelFormat::bgrx:
        return "BGRX";
    case handoff::PixelFormat::bitmask:
        return "bitmask";
    case handoff::PixelFormat::none:
        break;
    }
    return "none";
}

constexpr uint64_t kMiB = 1024 * 1024;

} // namespace

ErrorOr<const handoff::Handoff*> validate(uint64_t handoff_physical) {
    if (handoff_physical == 0 || (handoff_physical & 7) != 0)
        return Error(ErrorCode::invalid_argument, "hand-off address is null or misaligned");
    const auto* handoff = direct_map<const handoff::Handoff>(handoff_physical);
    if (handoff->magic != handoff::kMagic)
        return Error(ErrorCode::corrupt, "hand-off magic is wrong (not a Halcyon loader?)");
    if (handoff->version != handoff::kVersion)
        return Error(
            ErrorCode::not_supported,
            "hand-off version differs from the core's (loader and core from different builds)");
    if (handoff->size != sizeof(handoff::Handoff))
        return Error(
            ErrorCode::corrupt,
            "hand-off size differs from the core's (loader and core from different builds)");
    if (handoff->memory_map == 0 || handoff->memory_region_count == 0)
        return Error(ErrorCode::corrupt, "hand-off has no memory map");
    return handoff;
}

std::span<const handoff::MemoryRegion> memory_map(const handoff::Handoff& handoff) {
    return {direct_map<const handoff::MemoryRegion>(handoff.memory_map),
            handoff.memory_region_count};
}

std::span<const handoff::Module> modules(const handoff::Handoff& handoff) {
    if (handoff.module_count == 0)
        return {};
    return {direct_map<const handoff::Module>(handoff.modules), handoff.module_count};
}

std::optional<std::span<const uint8_t>> module_bytes(const handoff::Handoff& handoff,
                                                     const char* name) {
    const handoff::Module* module =
        handoff::find_module(handoff, name, [](uint64_t physical) { return direct_map(physical); });
    if (module == nullptr)
        return std::nullopt;
    return std::span<const uint8_t>(direct_map<const uint8_t>(module->physical_base), module->size);
}

uint64_t highest_address(const handoff::Handoff& handoff) {
    uint64_t highest = 0;
    for (const handoff::MemoryRegion& region : memory_map(handoff)) {
        const uint64_t end = region.physical_base + region.page_count * 4096;
        if (end > highest)
            highest = end;
    }
    return highest;
}

void log_summary(const handoff::Handoff& handoff) {
    uint64_t total_pages = 0;
    uint64_t usable_pages = 0;
    for (const handoff::MemoryRegion& region : memory_map(handoff)) {
        switch (region.type) {
        case handoff::MemoryType::mmio:
        case handoff::MemoryType::reserved:
            break; // not RAM
        case handoff::MemoryType::usable:
            usable_pages += region.page_count;
            total_pages += region.page_count;
            break;
        default:
            total_pages += region.page_count;
            break;
        }
    }
    log::info("memory: %llu MiB RAM, %llu MiB usable, %u map regions",
              static_cast<ull>(total_pages * 4096 / kMiB),
              static_cast<ull>(usable_pages * 4096 / kMiB), handoff.memory_region_count);
    for (const handoff::MemoryRegion& region : memory_map(handoff)) {
        log::debug("  %016llx-%016llx type %u (efi %#x)", static_cast<ull>(region.physical_base),
                   static_cast<ull>(region.physical_base + region.page_count * 4096),
                   static_cast<unsigned>(region.type), region.efi_type);
    }
    log::info("core image: %llu KiB at physical %#llx",
              static_cast<ull>(handoff.core_image_size / 1024),
              static_cast<ull>(handoff.core_physical_base));
    log::info("modules: %u", handoff.module_count);
    for (const handoff::Module& module : modules(handoff)) {
        log::info("  %.*s: %llu bytes at %#llx", static_cast<int>(sizeof(module.name)), module.name,
                  static_cast<ull>(module.size), static_cast<ull>(module.physical_base));
    }
    if (handoff.acpi_rsdp != 0)
        log::info("ACPI RSDP at %#llx", static_cast<ull>(handoff.acpi_rsdp));
    else
        log::warn("no ACPI RSDP from the firmware");
    const handoff::Framebuffer& fb = handoff.framebuffer;
    if (fb.physical_base != 0) {
        log::info("framebuffer: %ux%u %s, stride %u, at %#llx", fb.width, fb.height,
                  pixel_format_name(fb.format), fb.pixels_per_scanline,
                  static_cast<ull>(fb.physical_base));
    } else {
        log::info("framebuffer: none");
    }
    log::info("boot source: %s (%.*s)", boot_source_name(handoff.boot_source),
              static_cast<int>(sizeof(handoff.boot_path)), handoff.boot_path);
    if (handoff.loader_start_tsc != 0 &&
        handoff.exit_boot_services_tsc >= handoff.loader_start_tsc &&
        x86::tsc::entry_tsc() >= handoff.exit_boot_services_tsc) {
        const uint64_t in_loader = x86::tsc::ticks_to_microseconds(handoff.exit_boot_services_tsc -
                                                                   handoff.loader_start_tsc);
        const uint64_t to_core =
            x86::tsc::ticks_to_microseconds(x86::tsc::entry_tsc() - handoff.exit_boot_services_tsc);
        log::info("loader: %llu.%06llu s until ExitBootServices, then %llu us until core entry",
                  static_cast<ull>(in_loader / 1'000'000), static_cast<ull>(in_loader % 1'000'000),
                  static_cast<ull>(to_core));
    }
}

} // namespace halcyon::boot_info
