// A validated view of the Multiboot2 boot information (multiboot2.hpp): the memory map, the
// modules with their command lines, the ACPI RSDP copy, the framebuffer and a few names for the
// log. The boot loader's data is untrusted input like any file: every tag size, string and
// array is checked against the information's total size before it is read, so a malformed
// structure is an error, never a wild read. Pure code, unit tested on the host.
#pragma once

#include "boot/handoff/handoff.hpp"
#include "boot/multiboot2/multiboot2.hpp"
#include "lib/base/error_or.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::multiboot2 {

// More than a loader ever brings (2 + 10 per VM for 16 VMs is 162); beyond it, boot fails.
inline constexpr size_t kMaxModules = 192;

struct Module {
    uint64_t start;        // physical, inclusive
    uint64_t end;          // physical, exclusive
    std::string_view name; // the module's command line: the name Halcyon knows it by
};

// How the boot loader left the display.
enum class Display : uint8_t {
    unknown, // no framebuffer tag: a BIOS boot loader leaves VGA text mode
    text,    // EGA text mode (80x25 at 0xB8000 on a PC)
    linear,  // a linear framebuffer the hand-off can describe
    other,   // indexed colour or a pixel layout the hand-off cannot describe
};

struct BootInformation {
    uint64_t total_size = 0;

    // Raw memory map entries; read them with memory_map_entry().
    std::span<const uint8_t> memory_map;
    size_t memory_map_entry_size = 0;
    size_t memory_map_entry_count = 0;

    Module modules[kMaxModules] = {};
    size_t module_count = 0;

    // The RSDP copy (ACPI 2.0+ preferred); empty when the boot loader found no ACPI tables.
    std::span<const uint8_t> rsdp;

    Display display = Display::unknown;
    handoff::Framebuffer framebuffer = {}; // valid for Display::linear
    uint64_t text_buffer = 0;              // for Display::text: physical address
    uint32_t text_columns = 0, text_rows = 0;

    std::string_view boot_loader_name;
    std::string_view command_line;
    bool has_bios_boot_device = false;
    uint32_t bios_boot_drive = 0;

    [[nodiscard]] MemoryMapEntry memory_map_entry(size_t index) const;
};

// Parses the boot information in `bytes` (which starts with its InformationHeader and may be
// longer than total_size). `out` is fully overwritten; it refers into `bytes`.
[[nodiscard]] ErrorOr<void> parse_boot_information(std::span<const uint8_t> bytes,
                                                   BootInformation& out);

} // namespace halcyon::multiboot2
