// Boots an unmodified Linux bzImage without firmware: the loader does what a boot loader plus
// BIOS would (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol") and the vCPU starts at
// the kernel's 64-bit entry point.
//
// Guest-physical layout (RAM from GPA 0, at most 3 GiB; see e820.hpp for the memory map):
//   0x00001000  GDT: 0x10 = __BOOT_CS (flat 64-bit code), 0x18 = __BOOT_DS (flat data)
//   0x00002000  identity page tables, 0..4 GiB with 2 MiB pages (PML4, PDPT, 4 directories)
//   0x00008000  .. 0x10000: a scratch stack (RSP = 0x10000; the kernel switches to its own)
//   0x00010000  boot_params (the "zero page")
//   0x00011000  the kernel command line, NUL terminated (at most 4095 bytes + NUL)
//   0x000E0000  ACPI tables (acpi_tables.hpp), reserved in the e820 map
//   pref_address (16 MiB for Debian's kernels)  the protected-mode kernel; init_size bytes from
//              there belong to it (it decompresses itself in that range)
//   top of RAM (below initrd_addr_max)          the initrd, page aligned
//
// Entry (the BSP, vCPU 0): 64-bit mode, CPL 0, interrupts off, RIP = load address + 0x200,
// RSI = boot_params, other GPRs 0; CR0 = PE|MP|ET|NE|WP|PG, CR4 = PAE, EFER = LME|LMA,
// CS = 0x10, DS/ES/SS (and FS/GS) = 0x18. The other vCPUs are started by the kernel with
// INIT/SIPI through their local APICs, as on hardware; the loader does not touch them.
// The loader writes every byte it relies on (whole tables and pages), so it does not need the
// guest memory to be zeroed, but guest RAM it does not write should read as zero, as on a PC.
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/cpu_backend.hpp"
#include "vmm/worker/linux/guest_memory.hpp"

#include <span>
#include <stdint.h>
#include <string_view>

namespace halcyon::worker::linux_boot {

inline constexpr uint64_t kGdtAddress = 0x1000;
inline constexpr uint64_t kPageTableAddress = 0x2000;
inline constexpr uint64_t kBootStackTop = 0x1'0000;
inline constexpr uint64_t kBootParamsAddress = 0x1'0000;
inline constexpr uint64_t kCommandLineAddress = 0x1'1000;
inline constexpr uint64_t kCommandLineCapacity = 4096;         // bytes, the NUL included
inline constexpr uint64_t kMinimumKernelAddress = 16ull << 20; // when pref_address is unusable

struct LinuxImage {
    std::span<const uint8_t> kernel; // the bzImage file
    std::span<const uint8_t> initrd; // may be empty
    std::string_view command_line;   // without a NUL; may be empty
};

struct GuestPlatform {
    uint64_t memory_bytes; // RAM from GPA 0
    uint32_t vcpu_count;
    bool vmbus = false; // the DSDT has the VMBus device (acpi_tables.hpp)
};

// Where everything went, for logs and tests.
struct LinuxLayout {
    uint64_t kernel_address; // the protected-mode code (the load address)
    uint64_t kernel_end;     // load address + init_size
    uint64_t initrd_address; // 0 when there is no initrd
    uint64_t initrd_size;
    uint64_t command_line_address;
    uint64_t boot_params_address;
    uint64_t rsdp_address;
    uint16_t protocol; // the kernel's boot protocol version (major << 8 | minor)
};

struct LinuxEntry {
    vmm::GeneralRegisters registers; // for vCPU 0
    vmm::SystemRegisters system;     // for vCPU 0
    LinuxLayout layout;
};

// Validates the image against the platform, writes everything into guest memory and returns the
// BSP's entry state. Errors say what is wrong: a bad or unsupported bzImage
// (kernel_image.hpp), a command line longer than the kernel or the loader allows, a kernel or
// initrd that does not fit in guest memory, an unsupported memory size or vCPU count.
[[nodiscard]] ErrorOr<LinuxEntry> load_linux(GuestMemoryWriter& memory, const LinuxImage& image,
                                             const GuestPlatform& platform);

} // namespace halcyon::worker::linux_boot
