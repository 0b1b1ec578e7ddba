#include "boot/uefi/platform_info.hpp"

#include "boot/uefi/efi/graphics_output.hpp"

namespace halcyon::loader {

uint64_t find_acpi_rsdp(const efi::SystemTable& system_table) {
    uint64_t acpi10 = 0;
    for (uint64_t i = 0; i < system_table.configuration_table_count; ++i) {
        const efi::ConfigurationTable& entry = system_table.configuration_table[i];
        if (entry.vendor_guid == efi::kAcpi20TableGuid)
            return reinterpret_cast<uint64_t>(entry.vendor_table);
        if (entry.vendor_guid == efi::kAcpi10TableGuid)
            acpi10 = reinterpret_cast<uint64_t>(entry.vendor_table);
    }
    return acpi10;
}

handoff::Framebuffer find_framebuffer(efi::BootServices& boot_services) {
    handoff::Framebuffer framebuffer = {};
    void* interface = nullptr;
    auto status =
        boot_services.locate_protocol(&efi::kGraphicsOutputProtocolGuid, nullptr, &interface);
    if (efi::is_error(status) || interface == nullptr)
        return framebuffer;
    const auto* gop = static_cast<const efi::GraphicsOutputProtocol*>(interface);
    const efi::GraphicsOutputMode* mode = gop->mode;
    if (mode == nullptr || mode->info == nullptr || mode->frame_buffer_base == 0)
        return framebuffer;

    switch (mode->info->pixel_format) {
    case efi::PixelFormat::red_green_blue_reserved_8bit:
        framebuffer.format = handoff::PixelFormat::rgbx;
        break;
    case efi::PixelFormat::blue_green_red_reserved_8bit:
        framebuffer.format = handoff::PixelFormat::bgrx;
        break;
    case efi::PixelFormat::bit_mask:
        framebuffer.format = handoff::PixelFormat::bitmask;
        break;
    default:
        return framebuffer; // Blt-only: no memory the core could draw into
    }
    framebuffer.physical_base = mode->frame_buffer_base;
    framebuffer.size = mode->frame_buffer_size;
    framebuffer.width = mode->info->horizontal_resolution;
    framebuffer.height = mode->info->vertical_resolution;
    framebuffer.pixels_per_scanline = mode->info->pixels_per_scan_line;
    return framebuffer;
}

} // namespace halcyon::loader
