// The Halcyon Multiboot2 boot stage (halcyon-mb2.elf): on a BIOS machine GRUB loads it with
// halcyon.cfg, halcyon.elf and the VM files as modules (grub.cfg names each module by the path
// halcyon.cfg uses for it), and it does what BOOTX64.EFI does on UEFI machines: the same
// modules, the same core placement and page tables (boot/common), the same hand-off, the same
// jump into the core. entry.S has brought the CPU to long mode on page tables that map the first
// 4 GiB 1:1. Every failure ends in fail(): a message, "HALCYON BOOT FAILED", power off.
#include "boot/common/boot_files.hpp"
#include "boot/common/core_layout.hpp"
#include "boot/common/cpu.hpp"
#include "boot/common/enter_core.hpp"
#include "boot/common/page_tables.hpp"
#include "boot/config/config.hpp"
#include "boot/handoff/handoff.hpp"
#include "boot/multiboot2/bios_memory_map.hpp"
#include "boot/multiboot2/boot_information.hpp"
#include "boot/multiboot2/boot_memory.hpp"
#include "boot/multiboot2/console.hpp"
#include "boot/multiboot2/legacy_pc.hpp"
#include "boot/multiboot2/rsdp.hpp"
#include "lib/elf/elf_image.hpp"
#include "lib/format/format.hpp"

#include <string_view>

#ifndef HALCYON_VERSION
#error "HALCYON_VERSION must be defined by the build"
#endif

extern "C" const char __stage_start[], __stage_end[];
extern "C" void (*const __init_array_start[])();
extern "C" void (*const __init_array_end[])();

using namespace halcyon;
using namespace halcyon::multiboot2;

// The C++ ABI's hook for a call through an unimplemented pure virtual function (which cannot
// happen with our final classes); defined because the interfaces' vtables reference it.
extern "C" [[noreturn]] void __cxa_pure_virtual() {
    fail("internal error", "pure virtual call");
}

namespace {

constexpr uint64_t kBootStackSize = 64 * 1024;
constexpr uint64_t k1MiB = 1ull << 20;
constexpr uint64_t k1GiB = 1ull << 30;
// What entry.S maps: the stage can only touch (and so only allocate) memory below this.
constexpr uint64_t kStageMapped = 4 * k1GiB;
constexpr size_t kMaxFirmwareRegions = 256;
constexpr const char* kModuleSource = "the boot loader's modules";

// The stage's state: large, so static rather than on the 64 KiB stack.
BootInformation g_information;
BootMemory g_memory;
config::BootConfig g_config;
config::Diagnostics g_diagnostics;
FirmwareRegion g_firmware[kMaxFirmwareRegions];
size_t g_firmware_count = 0;
uint64_t g_map_scratch[memory_map_scratch_size(kMaxFirmwareRegions, BootMemory::kMaxClaims)];

struct ModuleTable {
    handoff::Module* entries = nullptr;
    uint32_t count = 0;
};
ModuleTable g_modules;

template <typename T>
T or_fail(ErrorOr<T>&& result, const char* reason) {
    if (result.is_error())
        fail(reason, result.error());
    return result.release_value();
}

void or_fail(ErrorOr<void>&& result, const char* reason) {
    if (result.is_error())
        fail(reason, result.error());
}

[[nodiscard]] uint64_t page_round_up(uint64_t bytes) {
    return (bytes + kPageSize - 1) & ~(kPageSize - 1);
}

// Zeroed memory handed to the core as `type`, from the top of the first 4 GiB down.
uint64_t allocate(uint64_t bytes, uint64_t alignment, handoff::MemoryType type, uint32_t efi_type,
                  const char* what) {
    uint64_t base =
        or_fail(g_memory.allocate(bytes, alignment, k1MiB, kStageMapped, type, efi_type), what);
    __builtin_memset(reinterpret_cast<void*>(base), 0, page_round_up(bytes));
    return base;
}

uint64_t allocate_boot_data(uint64_t bytes, const char* what) {
    return allocate(bytes, kPageSize, handoff::MemoryType::boot_data, handoff::kEfiTypeBootData,
                    what);
}

// Page-table pages: handed to the core, so boot data.
class BootDataPageAllocator final : public loader::PageTableAllocator {
public:
    [[nodiscard]] ErrorOr<uint64_t> allocate_table() override {
        uint64_t page =
            TRY(g_memory.allocate(kPageSize, kPageSize, k1MiB, kStageMapped,
                                  handoff::MemoryType::boot_data, handoff::kEfiTypeBootData));
        __builtin_memset(reinterpret_cast<void*>(page), 0, kPageSize);
        return page;
    }
};

void run_global_constructors() {
    for (auto* constructor = __init_array_start; constructor != __init_array_end; ++constructor)
        (*constructor)();
}

void read_boot_information(uint32_t magic, uint32_t information) {
    if (magic != kBootloaderMagic)
        fail("not started by a Multiboot2 boot loader", "wrong boot loader magic in EAX");
    if (information == 0 || information % kTagAlignment != 0)
        fail("invalid Multiboot2 boot information", "its address is null or misaligned");
    uint32_t total_size;
    __builtin_memcpy(&total_size, reinterpret_cast<const void*>(uint64_t{information}),
                     sizeof(total_size));
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(uint64_t{information}),
                                   total_size);
    or_fail(parse_boot_information(bytes, g_information), "invalid Multiboot2 boot information");

    if (g_information.display == Display::text)
        console_use_text_screen(g_information.text_buffer, g_information.text_columns,
                                g_information.text_rows);
    else if (g_information.display == Display::unknown)
        console_use_text_screen(0xB8000, 80, 25); // a BIOS boot loader leaves VGA text mode

    if (g_information.memory_map_entry_count > kMaxFirmwareRegions)
        fail("the BIOS memory map is too large", "more than 256 entries");
    for (size_t i = 0; i < g_information.memory_map_entry_count; ++i) {
        MemoryMapEntry entry = g_information.memory_map_entry(i);
        g_firmware[g_firmware_count++] = {entry.base_address, entry.length, entry.type};
    }
}

// The RSDP as the boot loader copied it, else the one the BIOS areas hold; empty if none.
std::span<const uint8_t> find_firmware_rsdp() {
    if (size_t size = rsdp_size(g_information.rsdp); size != 0)
        return g_information.rsdp.first(size);
    // The EBDA's segment is in the BIOS data area at 0x40E; search its first KiB, then the BIOS
    // read-only area.
    uint16_t ebda_segment;
    __builtin_memcpy(&ebda_segment, reinterpret_cast<const void*>(0x40E), sizeof(ebda_segment));
    uint64_t ebda = uint64_t{ebda_segment} << 4;
    std::span<const uint8_t> areas[] = {
        {reinterpret_cast<const uint8_t*>(ebda), ebda >= 0x8'0000 && ebda < 0xA'0000 ? 1024u : 0u},
        {reinterpret_cast<const uint8_t*>(0xE'0000), 0x2'0000},
    };
    for (std::span<const uint8_t> area : areas) {
        if (auto offset = find_rsdp(area)) {
            auto rest = area.subspan(*offset);
            return rest.first(rsdp_size(rest));
        }
    }
    return {};
}

void init_memory(uint32_t information) {
    for (size_t i = 0; i < g_firmware_count; ++i) {
        if (g_firmware[i].type == kMemoryAvailable)
            or_fail(g_memory.add_available(g_firmware[i].base, g_firmware[i].length),
                    "cannot use the BIOS memory map");
    }
    // In use until the core runs: page 0 (the real-mode interrupt table, and a physical address
    // that looks like a null pointer), this stage, the boot information and every module.
    or_fail(g_memory.reserve(0, kPageSize), "cannot use the BIOS memory map");
    or_fail(g_memory.reserve(reinterpret_cast<uint64_t>(__stage_start),
                             reinterpret_cast<uint64_t>(__stage_end)),
            "cannot use the BIOS memory map");
    or_fail(g_memory.reserve(information, information + g_information.total_size),
            "cannot use the BIOS memory map");
    for (size_t i = 0; i < g_information.module_count; ++i)
        or_fail(g_memory.reserve(g_information.modules[i].start, g_information.modules[i].end),
                "cannot use the BIOS memory map");
}

const Module* find_multiboot_module(const char* name) {
    std::string_view wanted(name);
    for (size_t i = 0; i < g_information.module_count; ++i) {
        if (g_information.modules[i].name == wanted)
            return &g_information.modules[i];
    }
    return nullptr;
}

// The hand-off entry for `name`: the GRUB module whose command line is that name, kept where
// GRUB put it (or copied when GRUB did not page-align it).
const handoff::Module& bring_module(const char* name) {
    for (uint32_t i = 0; i < g_modules.count; ++i) {
        if (__builtin_strcmp(g_modules.entries[i].name, name) == 0)
            return g_modules.entries[i]; // e.g. two VMs sharing one kernel
    }
    size_t name_length = __builtin_strlen(name);
    if (name_length >= sizeof(handoff::Module::name))
        fail("cannot load a boot file", "module path is longer than 111 characters");
    if (g_modules.count == loader::kMaxBootModules)
        fail("cannot load a boot file", "too many modules");
    const Module* source = find_multiboot_module(name);
    if (source == nullptr) {
        log("error: cannot load %s from %s", name, kModuleSource);
        fail("cannot load a boot file",
             "no Multiboot2 module has that name (each grub.cfg module2 line names its file)");
    }
    uint64_t size = source->end - source->start;
    uint64_t base = source->start;
    if (base % kPageSize != 0) {
        base = allocate(size == 0 ? 1 : size, kPageSize, handoff::MemoryType::boot_module,
                        handoff::kEfiTypeBootModule, "out of memory for a boot file");
        __builtin_memcpy(reinterpret_cast<void*>(base),
                         reinterpret_cast<const void*>(source->start), size);
    } else if (size != 0) {
        or_fail(g_memory.claim(base, page_round_up(size), handoff::MemoryType::boot_module,
                               handoff::kEfiTypeBootModule),
                "cannot keep a boot file");
    }
    handoff::Module& module = g_modules.entries[g_modules.count++];
    module.physical_base = base;
    module.size = size;
    __builtin_memcpy(module.name, name, name_length + 1);
    log("loaded %s (%llu bytes at 0x%llx)", name, static_cast<unsigned long long>(size),
        static_cast<unsigned long long>(base));
    return module;
}

std::span<const uint8_t> module_bytes(const handoff::Module& module) {
    return {reinterpret_cast<const uint8_t*>(module.physical_base), module.size};
}

// Parses halcyon.cfg; on any diagnostic prints them all and fails, like the UEFI loader.
void read_configuration(const handoff::Module& module) {
    auto bytes = module_bytes(module);
    std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    bool ok = config::parse(text, g_config, g_diagnostics);
    if (!ok || !g_diagnostics.empty()) {
        for (uint32_t i = 0; i < g_diagnostics.count && i < config::kMaxDiagnostics; ++i)
            print_line("halcyon.cfg:%u: %s", g_diagnostics.entries[i].line,
                       g_diagnostics.entries[i].message);
        if (g_diagnostics.dropped != 0)
            print_line("halcyon.cfg: %u more problems not shown", g_diagnostics.dropped);
        fail("invalid configuration", nullptr);
    }
}

struct PlacedCore {
    uint64_t physical_base;
    uint64_t size;
    uint64_t entry;
};

PlacedCore place_core(const elf::Image& core_elf, std::span<const uint8_t> file) {
    loader::CoreLayout layout =
        or_fail(loader::plan_core_image(core_elf), "cannot load halcyon.elf");
    uint64_t base =
        allocate(layout.size, loader::kCoreImageAlignment, handoff::MemoryType::core_image,
                 handoff::kEfiTypeCoreImage, "cannot load halcyon.elf");
    loader::copy_core_segments(core_elf, file, reinterpret_cast<uint8_t*>(base));
    return {base, layout.size, layout.entry};
}

uint64_t highest_physical_address(const handoff::Framebuffer& framebuffer) {
    uint64_t highest = 0;
    for (size_t i = 0; i < g_firmware_count; ++i) {
        const FirmwareRegion& region = g_firmware[i];
        uint64_t end = region.length > ~0ull - region.base ? ~0ull : region.base + region.length;
        if (end > highest)
            highest = end;
    }
    // The framebuffer is MMIO that the memory map need not list; the core must reach it
    // through the direct map all the same.
    if (framebuffer.physical_base + framebuffer.size > highest)
        highest = framebuffer.physical_base + framebuffer.size;
    return highest;
}

void describe_boot(char* out, size_t size) {
    std::string_view name = g_information.boot_loader_name;
    if (name.empty())
        name = "unknown boot loader";
    size_t length =
        format::format(out, size, "multiboot2: %.*s", static_cast<int>(name.size()), name.data());
    if (g_information.has_bios_boot_device && length < size)
        format::format(out + length, size - length, " (BIOS drive 0x%x)",
                       g_information.bios_boot_drive);
}

} // namespace

extern "C" [[noreturn]] void multiboot2_main(uint32_t magic, uint32_t information) {
    uint64_t start_tsc = loader::cpu::read_tsc();
    run_global_constructors();
    console_init();
    log("Halcyon loader %s (Multiboot2, BIOS)", HALCYON_VERSION);
    read_boot_information(magic, information);
    std::span<const uint8_t> firmware_rsdp = find_firmware_rsdp();
    // From here on, fail() powers the machine off.
    set_power_off_rsdp(reinterpret_cast<uint64_t>(firmware_rsdp.data()));
    init_memory(information);
    log("loading from %s", kModuleSource);

    g_modules.entries = reinterpret_cast<handoff::Module*>(
        allocate_boot_data(loader::kMaxBootModules * sizeof(handoff::Module), "out of memory"));
    read_configuration(bring_module(loader::kConfigFileName));

    const handoff::Module& core_module = bring_module(loader::kCoreFileName);
    auto core_file = module_bytes(core_module);
    elf::Image core_elf = or_fail(elf::Image::parse(core_file), "halcyon.elf is not a valid core");
    loader::for_each_vm_file(g_config, [](const char* path) { (void)bring_module(path); });

    PlacedCore core = place_core(core_elf, core_file);
    log("core: %llu KiB at 0x%llx, entry 0x%llx", static_cast<unsigned long long>(core.size >> 10),
        static_cast<unsigned long long>(core.physical_base),
        static_cast<unsigned long long>(core.entry));

    handoff::Framebuffer framebuffer = g_information.display == Display::linear
                                           ? g_information.framebuffer
                                           : handoff::Framebuffer{};
    uint64_t highest = highest_physical_address(framebuffer);
    loader::PageTableOptions options{
        .physical_limit = ((highest > 4 * k1GiB ? highest : 4 * k1GiB) + k1GiB - 1) & ~(k1GiB - 1),
        .use_1gib_pages = loader::cpu::supports_1gib_pages(),
        .core_physical_base = core.physical_base,
    };
    BootDataPageAllocator table_allocator;
    uint64_t page_table_root = or_fail(
        loader::build_page_tables(options, core_elf, table_allocator), "cannot build page tables");
    log("page tables: %llu GiB mapped, direct map with %s pages",
        static_cast<unsigned long long>(options.physical_limit / k1GiB),
        options.use_1gib_pages ? "1 GiB" : "2 MiB");

    // The AP trampoline: one page below 1 MiB (a SIPI vector names a page there), not page 0.
    uint64_t trampoline =
        or_fail(g_memory.allocate(kPageSize, kPageSize, kPageSize, k1MiB,
                                  handoff::MemoryType::boot_data, handoff::kEfiTypeBootData),
                "no memory below 1 MiB for the AP trampoline");
    __builtin_memset(reinterpret_cast<void*>(trampoline), 0, kPageSize);
    uint64_t stack = allocate_boot_data(kBootStackSize, "cannot allocate the boot stack");
    // One page: the hand-off, then (16-byte aligned, as the BIOS keeps it) the RSDP copy.
    constexpr size_t kRsdpOffset = (sizeof(handoff::Handoff) + 15) & ~size_t{15};
    uint64_t handoff_page = allocate_boot_data(kPageSize, "cannot allocate the hand-off");
    auto* handoff = reinterpret_cast<handoff::Handoff*>(handoff_page);

    handoff->magic = handoff::kMagic;
    handoff->version = handoff::kVersion;
    handoff->size = sizeof(handoff::Handoff);
    // The boot information, where GRUB's copy lives, is not kept for the core: copy the RSDP
    // into the hand-off's page (a BIOS-area RSDP could stay where it is, but one rule for both
    // is simpler).
    if (!firmware_rsdp.empty() && firmware_rsdp.size() <= kPageSize - kRsdpOffset) {
        __builtin_memcpy(reinterpret_cast<void*>(handoff_page + kRsdpOffset), firmware_rsdp.data(),
                         firmware_rsdp.size());
        handoff->acpi_rsdp = handoff_page + kRsdpOffset;
    }
    handoff->framebuffer = framebuffer;
    handoff->module_count = g_modules.count;
    handoff->modules = reinterpret_cast<uint64_t>(g_modules.entries);
    handoff->core_physical_base = core.physical_base;
    handoff->core_image_size = core.size;
    handoff->page_table_root = page_table_root;
    handoff->boot_stack_base = stack;
    handoff->boot_stack_size = kBootStackSize;
    handoff->ap_trampoline = trampoline;
    handoff->boot_source = handoff::BootSource::disk;
    handoff->loader_start_tsc = start_tsc;
    describe_boot(handoff->boot_path, sizeof(handoff->boot_path));

    if (handoff->acpi_rsdp == 0)
        log("warning: the firmware has no ACPI tables");
    if (framebuffer.physical_base != 0)
        log("framebuffer: %ux%u at 0x%llx", framebuffer.width, framebuffer.height,
            static_cast<unsigned long long>(framebuffer.physical_base));

    // The memory map last: its own pages are the last claim it must contain.
    size_t region_capacity = 2 * (g_firmware_count + BootMemory::kMaxClaims) + 8;
    auto* regions = reinterpret_cast<handoff::MemoryRegion*>(allocate_boot_data(
        region_capacity * sizeof(handoff::MemoryRegion), "cannot allocate the memory map"));
    size_t region_count =
        or_fail(build_memory_map({g_firmware, g_firmware_count}, g_memory.claims(), g_map_scratch,
                                 {regions, region_capacity}),
                "cannot build the memory map");
    handoff->memory_map = reinterpret_cast<uint64_t>(regions);
    handoff->memory_region_count = static_cast<uint32_t>(region_count);

    log("starting the core");
    quiet_legacy_interrupt_controllers();
    handoff->exit_boot_services_tsc = loader::cpu::read_tsc();
    loader::enter_core(page_table_root, handoff::kDirectMapBase + stack + kBootStackSize,
                       core.entry, handoff_page);
}
