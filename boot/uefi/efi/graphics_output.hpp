// EFI_GRAPHICS_OUTPUT_PROTOCOL (UEFI 2.10, section 12.9): the linear framebuffer the firmware
// set up, handed to the core so it can draw a console without a GPU driver.
#pragma once

#include "boot/uefi/efi/types.hpp"

namespace halcyon::efi {

// EFI_GRAPHICS_PIXEL_FORMAT.
enum class PixelFormat : uint32_t {
    red_green_blue_reserved_8bit = 0,
    blue_green_red_reserved_8bit = 1,
    bit_mask = 2,
    blt_only = 3, // no linear framebuffer at all
};

struct PixelBitmask {
    uint32_t red;
    uint32_t green;
    uint32_t blue;
    uint32_t reserved;
};

struct GraphicsOutputModeInformation {
    uint32_t version;
    uint32_t horizontal_resolution;
    uint32_t vertical_resolution;
    PixelFormat pixel_format;
    PixelBitmask pixel_information;
    uint32_t pixels_per_scan_line;
};

struct GraphicsOutputMode {
    uint32_t max_mode;
    uint32_t mode;
    GraphicsOutputModeInformation* info;
    Uintn size_of_info;
    PhysicalAddress frame_buffer_base;
    Uintn frame_buffer_size;
};

struct GraphicsOutputProtocol {
    void* query_mode;
    void* set_mode;
    void* blt;
    GraphicsOutputMode* mode;
};

inline constexpr Guid kGraphicsOutputProtocolGuid = {
    0x9042A9DE, 0x23DC, 0x4A38, {0x96, 0xFB, 0x7A, 0xDE, 0xD0, 0x80, 0x51, 0x6A}};

} // namespace halcyon::efi
