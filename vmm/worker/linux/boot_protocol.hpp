// Typed layouts of the Linux/x86 boot protocol, written from the kernel's documentation
// (Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header" and "64-bit Boot Protocol";
// Documentation/arch/x86/zero-page.rst). A bzImage starts with a boot sector whose setup header
// sits at offset 0x1F1; the loader copies that header into the same offset of `boot_params`
// (the "zero page"), fills in what the loader owns and passes the zero page's address in RSI.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace halcyon::worker::linux_boot {

inline constexpr uint16_t kBootFlag = 0xAA55;
inline constexpr uint32_t kHeaderMagic = 0x5372'6448; // "HdrS", little endian
inline constexpr uint16_t kMinimumProtocol = 0x020C;  // 2.12: xloadflags (XLF_KERNEL_64)

inline constexpr uint8_t kLoadedHigh = 1u << 0; // loadflags: protected-mode code at 0x100000+
inline constexpr uint8_t kKeepSegments = 1u << 6;
inline constexpr uint8_t kCanUseHeap = 1u << 7;

inline constexpr uint16_t kXlfKernel64 = 1u << 0; // 64-bit entry at load address + 0x200
inline constexpr uint16_t kXlfCanBeLoadedAbove4G = 1u << 1;

inline constexpr uint8_t kLoaderTypeUndefined = 0xFF; // type_of_loader: "no assigned id"
inline constexpr uint32_t kHardwareSubarchPc = 0;     // a normal x86 PC
inline constexpr uint64_t kEntry64Offset = 0x200;     // from the protected-mode load address
inline constexpr uint16_t kBootCodeSelector = 0x10;   // __BOOT_CS
inline constexpr uint16_t kBootDataSelector = 0x18;   // __BOOT_DS
inline constexpr size_t kSectorBytes = 512;
inline constexpr uint8_t kDefaultSetupSectors = 4; // setup_sects == 0 means 4

// The setup header, offset 0x1F1 of both the image and boot_params. Fields are listed up to
// kernel_info_offset (protocol 2.15); a kernel says how long its header really is with the byte
// at 0x201 (the jump at 0x200), and only that many bytes are copied.
struct [[gnu::packed]] SetupHeader {
    uint8_t setup_sects;
    uint16_t root_flags;
    uint32_t syssize; // protected-mode code size in 16-byte paragraphs
    uint16_t ram_size;
    uint16_t vid_mode;
    uint16_t root_dev;
    uint16_t boot_flag; // kBootFlag
    uint16_t jump;      // high byte: header end - 0x202
    uint32_t header;    // kHeaderMagic
    uint16_t version;   // protocol, major << 8 | minor
    uint32_t realmode_swtch;
    uint16_t start_sys_seg;
    uint16_t kernel_version;
    uint8_t type_of_loader;
    uint8_t loadflags;
    uint16_t setup_move_size;
    uint32_t code32_start;
    uint32_t ramdisk_image;
    uint32_t ramdisk_size;
    uint32_t bootsect_kludge;
    uint16_t heap_end_ptr;
    uint8_t ext_loader_ver;
    uint8_t ext_loader_type;
    uint32_t cmd_line_ptr;
    uint32_t initrd_addr_max; // highest address the initrd may occupy
    uint32_t kernel_alignment;
    uint8_t relocatable_kernel;
    uint8_t min_alignment; // log2
    uint16_t xloadflags;
    uint32_t cmdline_size; // maximum command line length, without the terminating NUL
    uint32_t hardware_subarch;
    uint64_t hardware_subarch_data;
    uint32_t payload_offset;
    uint32_t payload_length;
    uint64_t setup_data;
    uint64_t pref_address;
    uint32_t init_size; // memory the kernel needs from its load address until it runs
    uint32_t handover_offset;
    uint32_t kernel_info_offset;
};
inline constexpr size_t kSetupHeaderOffset = 0x1F1;
#define HALCYON_HEADER_AT(field, offset)                                                           \
    static_assert(kSetupHeaderOffset + offsetof(SetupHeader, field) == (offset))
HALCYON_HEADER_AT(setup_sects, 0x1F1);
HALCYON_HEADER_AT(syssize, 0x1F4);
HALCYON_HEADER_AT(boot_flag, 0x1FE);
HALCYON_HEADER_AT(header, 0x202);
HALCYON_HEADER_AT(version, 0x206);
HALCYON_HEADER_AT(type_of_loader, 0x210);
HALCYON_HEADER_AT(loadflags, 0x211);
HALCYON_HEADER_AT(ramdisk_image, 0x218);
HALCYON_HEADER_AT(cmd_line_ptr, 0x228);
HALCYON_HEADER_AT(initrd_addr_max, 0x22C);
HALCYON_HEADER_AT(kernel_alignment, 0x230);
HALCYON_HEADER_AT(xloadflags, 0x236);
HALCYON_HEADER_AT(cmdline_size, 0x238);
HALCYON_HEADER_AT(hardware_subarch, 0x23C);
HALCYON_HEADER_AT(pref_address, 0x258);
HALCYON_HEADER_AT(init_size, 0x260);
HALCYON_HEADER_AT(kernel_info_offset, 0x268);
#undef HALCYON_HEADER_AT
static_assert(sizeof(SetupHeader) == 0x26C - kSetupHeaderOffset);

// One entry of the BIOS-style memory map the kernel reads from boot_params.
struct [[gnu::packed]] E820Entry {
    uint64_t address;
    uint64_t size;
    uint32_t type; // E820Type
};
static_assert(sizeof(E820Entry) == 20);

enum E820Type : uint32_t {
    kE820Ram = 1,
    kE820Reserved = 2,
    kE820AcpiReclaimable = 3,
    kE820AcpiNvs = 4,
};

inline constexpr size_t kMaxE820Entries = 128; // the size of boot_params.e820_table

// struct boot_params, one 4 KiB page. Only the fields a 64-bit loader fills are named; the rest
// (screen/APM/EDD/EFI information a BIOS or EFI loader would provide) stays zero.
struct [[gnu::packed]] BootParams {
    uint8_t screen_info[0x40];
    uint8_t apm_bios_info[0x14];
    uint8_t padding0[4];
    uint64_t tboot_addr;
    uint8_t ist_info[0x10];
    uint64_t acpi_rsdp_addr; // protocol 2.14+
    uint8_t padding1[8];
    uint8_t hd0_info[0x10];
    uint8_t hd1_info[0x10];
    uint8_t sys_desc_table[0x10];
    uint8_t olpc_ofw_header[0x10];
    uint32_t ext_ramdisk_image; // high 32 bits of ramdisk_image
    uint32_t ext_ramdisk_size;
    uint32_t ext_cmd_line_ptr;
    uint8_t padding2[0x13C - 0xCC];
    uint32_t cc_blob_address;
    uint8_t edid_info[0x80];
    uint8_t efi_info[0x20];
    uint32_t alt_mem_k;
    uint32_t scratch;
    uint8_t e820_entries;
    uint8_t eddbuf_entries;
    uint8_t edd_mbr_sig_buf_entries;
    uint8_t kbd_status;
    uint8_t secure_boot;
    uint8_t padding3[2];
    uint8_t sentinel; // must stay 0: a non-zero value tells the kernel the loader forgot to zero
    uint8_t padding4;
    SetupHeader hdr;
    uint8_t padding5[0x290 - 0x1F1 - sizeof(SetupHeader)];
    uint32_t edd_mbr_sig_buffer[16];
    E820Entry e820_table[kMaxE820Entries];
    uint8_t padding6[0x30];
    uint8_t eddbuf[0x1EC];
    uint8_t padding7[0x1000 - 0xEEC];
};
static_assert(sizeof(BootParams) == 4096);
static_assert(offsetof(BootParams, acpi_rsdp_addr) == 0x070);
static_assert(offsetof(BootParams, ext_ramdisk_image) == 0x0C0);
static_assert(offsetof(BootParams, ext_cmd_line_ptr) == 0x0C8);
static_assert(offsetof(BootParams, cc_blob_address) == 0x13C);
static_assert(offsetof(BootParams, e820_entries) == 0x1E8);
static_assert(offsetof(BootParams, sentinel) == 0x1EF);
static_assert(offsetof(BootParams, hdr) == kSetupHeaderOffset);
static_assert(offsetof(BootParams, edd_mbr_sig_buffer) == 0x290);
static_assert(offsetof(BootParams, e820_table) == 0x2D0);
static_assert(offsetof(BootParams, eddbuf) == 0xD00);

} // namespace halcyon::worker::linux_boot
