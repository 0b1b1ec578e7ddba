// The Multiboot2 boot protocol (Multiboot2 specification, version 2.0): what a boot loader such
// as GRUB hands a Multiboot2 kernel. Our own definitions, from the specification's text. The
// header the boot loader looks for is in entry.S (it must be in the first 32 KiB of the file).
//
// On entry (32-bit protected mode, paging off, interrupts off): EAX = kBootloaderMagic and
// EBX = physical address of the boot information: an 8-byte header, then tags, each 8-byte
// aligned, ending with a tag of type `end`.
#pragma once

#include <stdint.h>

namespace halcyon::multiboot2 {

inline constexpr uint32_t kHeaderMagic = 0xE852'50D6;
inline constexpr uint32_t kBootloaderMagic = 0x36D7'6289;
inline constexpr uint32_t kTagAlignment = 8;

struct InformationHeader {
    uint32_t total_size; // bytes, including this header and the end tag
    uint32_t reserved;
};
static_assert(sizeof(InformationHeader) == 8);

enum class TagType : uint32_t {
    end = 0,
    command_line = 1,
    boot_loader_name = 2,
    module = 3,
    basic_memory_info = 4,
    bios_boot_device = 5,
    memory_map = 6,
    vbe_info = 7,
    framebuffer = 8,
    elf_sections = 9,
    apm_table = 10,
    efi32_system_table = 11,
    efi64_system_table = 12,
    smbios = 13,
    acpi_old_rsdp = 14, // a copy of the ACPI 1.0 RSDP
    acpi_new_rsdp = 15, // a copy of the ACPI 2.0+ RSDP
    network = 16,
    efi_memory_map = 17,
    efi_boot_services_active = 18,
    efi32_image_handle = 19,
    efi64_image_handle = 20,
    load_base_address = 21,
};

struct TagHeader {
    uint32_t type;
    uint32_t size; // bytes, including this header; the next tag starts 8-byte aligned after it
};
static_assert(sizeof(TagHeader) == 8);

// Followed by the module's NUL-terminated string (the rest of GRUB's `module2` command line).
struct ModuleTag {
    TagHeader header;
    uint32_t module_start; // physical, inclusive
    uint32_t module_end;   // physical, exclusive
};
static_assert(sizeof(ModuleTag) == 16);

struct BiosBootDeviceTag {
    TagHeader header;
    uint32_t bios_drive; // BIOS drive number, e.g. 0x80 for the first hard disk, 0xE0 for a CD
    uint32_t partition;
    uint32_t sub_partition;
};
static_assert(sizeof(BiosBootDeviceTag) == 20);

// Followed by entries of `entry_size` bytes (at least sizeof(MemoryMapEntry)).
struct MemoryMapTag {
    TagHeader header;
    uint32_t entry_size;
    uint32_t entry_version; // 0
};
static_assert(sizeof(MemoryMapTag) == 16);

struct MemoryMapEntry {
    uint64_t base_address;
    uint64_t length;
    uint32_t type; // MemoryMapType; the BIOS's E820 type as GRUB reports it
    uint32_t reserved;
};
static_assert(sizeof(MemoryMapEntry) == 24);

// The E820 types GRUB passes through (other values: reserved).
enum MemoryMapType : uint32_t {
    kMemoryAvailable = 1,
    kMemoryReserved = 2,
    kMemoryAcpiReclaimable = 3,
    kMemoryAcpiNvs = 4,
    kMemoryBad = 5,
    kMemoryPersistent = 7,
    kMemoryPersistentLegacy = 12,
};

// Followed by the colour information of the framebuffer type (RgbColorInfo for `rgb`).
struct FramebufferTag {
    TagHeader header;
    uint64_t address; // physical
    uint32_t pitch;   // bytes per line
    uint32_t width;   // pixels, or characters for EGA text
    uint32_t height;
    uint8_t bits_per_pixel;
    uint8_t framebuffer_type; // FramebufferType
    uint16_t reserved;
};
static_assert(sizeof(FramebufferTag) == 32);

enum FramebufferType : uint8_t {
    kFramebufferIndexed = 0,
    kFramebufferRgb = 1,
    kFramebufferEgaText = 2
};

struct RgbColorInfo {
    uint8_t red_position, red_size;
    uint8_t green_position, green_size;
    uint8_t blue_position, blue_size;
};
static_assert(sizeof(RgbColorInfo) == 6);

} // namespace halcyon::multiboot2
