// The Halcyon UEFI loader: efi_main. Reads halcyon.cfg, loads the core and the modules the
// configuration names, prepares the core's page tables and hand-off, leaves the firmware and
// jumps into the core. Every failure ends in fail(): a message, "HALCYON BOOT FAILED", power off.
#include "boot/common/boot_files.hpp"
#include "boot/common/cpu.hpp"
#include "boot/common/enter_core.hpp"
#include "boot/common/page_tables.hpp"
#include "boot/config/config.hpp"
#include "boot/handoff/handoff.hpp"
#include "boot/uefi/boot_location.hpp"
#include "boot/uefi/core_image.hpp"
#include "boot/uefi/disk_file_source.hpp"
#include "boot/uefi/efi/file_system.hpp"
#include "boot/uefi/efi/loaded_image.hpp"
#include "boot/uefi/efi/pxe.hpp"
#include "boot/uefi/exit_boot_services.hpp"
#include "boot/uefi/firmware.hpp"
#include "boot/uefi/modules.hpp"
#include "boot/uefi/platform_info.hpp"
#include "boot/uefi/pxe_file_source.hpp"
#include "lib/elf/elf_image.hpp"

#include <new>

#ifndef HALCYON_VERSION
#error "HALCYON_VERSION must be defined by the build"
#endif

using namespace halcyon;
using namespace halcyon::loader;

// The C++ ABI's hook for a call through an unimplemented pure virtual function (which cannot
// happen with our final classes); defined because the interfaces' vtables reference it.
extern "C" [[noreturn]] void __cxa_pure_virtual() {
    fail("internal error", "pure virtual call");
}

namespace {

constexpr uint64_t kBootStackSize = 64 * 1024;
constexpr uint64_t k1GiB = 1ull << 30;

// Everything efi_main keeps; file sources live here so their lifetime is the loader's.
struct LoaderState {
    DiskFileSource disk;
    PxeFileSource pxe;
    FileSource* source = nullptr;
    ModuleList modules;
};

[[nodiscard]] ErrorOr<void*> handle_protocol(efi::Handle handle, const efi::Guid& guid) {
    void* interface = nullptr;
    auto status = firmware().boot_services->handle_protocol(handle, &guid, &interface);
    if (efi::is_error(status) || interface == nullptr)
        return status_error(efi::is_error(status) ? status : efi::Status::not_found,
                            "protocol not found");
    return interface;
}

// The network the loader was booted from, else the volume it was loaded from.
void open_file_source(LoaderState& state) {
    auto loaded_image_or = handle_protocol(firmware().image, efi::kLoadedImageProtocolGuid);
    if (loaded_image_or.is_error())
        fail("cannot find the loader's own image", loaded_image_or.error());
    auto* loaded_image = static_cast<efi::LoadedImageProtocol*>(loaded_image_or.value());

    // A device with PXE base code is a network card: network boot. Check it first, because
    // network boot ROMs such as iPXE also put a (virtual) file system on the same handle,
    // which holds only the images the ROM itself downloaded.
    auto pxe = handle_protocol(loaded_image->device_handle, efi::kPxeBaseCodeProtocolGuid);
    if (!pxe.is_error()) {
        auto opened = state.pxe.open(static_cast<efi::PxeBaseCodeProtocol*>(pxe.value()));
        if (opened.is_error())
            fail("cannot use the network boot server", opened.error());
        state.source = &state.pxe;
        return;
    }
    auto file_system =
        handle_protocol(loaded_image->device_handle, efi::kSimpleFileSystemProtocolGuid);
    if (file_system.is_error())
        fail("unknown boot device",
             "the loader's device has neither PXE base code nor a file system");
    char directory[128];
    auto located = loader_directory(loaded_image->file_path, directory, sizeof(directory));
    if (located.is_error())
        fail("cannot find the loader's directory", located.error());
    auto opened = state.disk.open(static_cast<efi::SimpleFileSystemProtocol*>(file_system.value()),
                                  directory);
    if (opened.is_error())
        fail("cannot open the boot volume", opened.error());
    state.source = &state.disk;
}

const handoff::Module& load_module_or_fail(LoaderState& state, const char* path) {
    auto module = state.modules.load(*state.source, path);
    if (module.is_error()) {
        log("error: cannot load %s from %s", path, state.source->location());
        fail("cannot load a boot file", module.error());
    }
    return *module.value();
}

// Parses halcyon.cfg; on any diagnostic prints them all and fails. The BootConfig is large
// (kilobytes per VM), so it lives in pool memory rather than on the firmware's small stack.
const config::BootConfig& read_configuration(const handoff::Module& module) {
    void* memory = nullptr;
    auto status = firmware().boot_services->allocate_pool(
        static_cast<uint32_t>(efi::MemoryType::loader_data),
        sizeof(config::BootConfig) + sizeof(config::Diagnostics), &memory);
    if (efi::is_error(status))
        fail("out of memory", "cannot allocate memory to parse halcyon.cfg");
    auto* boot_config = new (memory) config::BootConfig();
    auto* diagnostics =
        new (static_cast<uint8_t*>(memory) + sizeof(config::BootConfig)) config::Diagnostics();

    auto bytes = module_bytes(module);
    std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    bool ok = config::parse(text, *boot_config, *diagnostics);
    if (!ok || !diagnostics->empty()) {
        for (uint32_t i = 0; i < diagnostics->count && i < config::kMaxDiagnostics; ++i)
            print_line("halcyon.cfg:%u: %s", diagnostics->entries[i].line,
                       diagnostics->entries[i].message);
        if (diagnostics->dropped != 0)
            print_line("halcyon.cfg: %u more problems not shown", diagnostics->dropped);
        fail("invalid configuration", nullptr);
    }
    return *boot_config;
}

// Page-table pages: handed to the core, so tagged as boot data.
class BootDataPageAllocator final : public PageTableAllocator {
public:
    [[nodiscard]] ErrorOr<uint64_t> allocate_table() override {
        return allocate_pages(1, handoff::kEfiTypeBootData);
    }
};

template <typename T>
T or_fail(ErrorOr<T>&& result, const char* reason) {
    if (result.is_error())
        fail(reason, result.error());
    return result.release_value();
}

void copy_string(char* out, size_t capacity, const char* text) {
    size_t i = 0;
    for (; text[i] && i + 1 < capacity; ++i)
        out[i] = text[i];
    out[i] = '\0';
}

} // namespace

extern "C" efi::Status efi_main(efi::Handle image, efi::SystemTable* system_table) {
    uint64_t start_tsc = cpu::read_tsc();
    firmware().image = image;
    firmware().system_table = system_table;
    firmware().boot_services = system_table->boot_services;
    // The firmware's 5-minute watchdog would reset a slow (e.g. debugged) boot.
    (void)system_table->boot_services->set_watchdog_timer(0, 0, 0, nullptr);
    log("Halcyon loader %s", HALCYON_VERSION);

    LoaderState state;
    open_file_source(state);
    log("loading from %s", state.source->location());
    if (auto allocated = state.modules.allocate(kMaxBootModules); allocated.is_error())
        fail("out of memory", allocated.error());

    const config::BootConfig& boot_config =
        read_configuration(load_module_or_fail(state, kConfigFileName));

    const handoff::Module& core_module = load_module_or_fail(state, kCoreFileName);
    auto core_file = module_bytes(core_module);
    elf::Image core_elf = or_fail(elf::Image::parse(core_file), "halcyon.elf is not a valid core");
    for_each_vm_file(boot_config,
                     [&](const char* path) { (void)load_module_or_fail(state, path); });

    CoreImage core = or_fail(load_core_image(core_elf, core_file), "cannot load halcyon.elf");
    log("core: %llu KiB at 0x%llx, entry 0x%llx", static_cast<unsigned long long>(core.size >> 10),
        static_cast<unsigned long long>(core.physical_base),
        static_cast<unsigned long long>(core.entry));

    uint64_t highest = or_fail(highest_physical_address(), "cannot read the memory map");
    // The framebuffer is MMIO that the memory map need not list (a 64-bit BAR can sit above
    // all RAM); the core must reach it through the direct map all the same.
    handoff::Framebuffer framebuffer = find_framebuffer(*system_table->boot_services);
    if (framebuffer.physical_base + framebuffer.size > highest)
        highest = framebuffer.physical_base + framebuffer.size;
    PageTableOptions options{
        .physical_limit = ((highest > 4 * k1GiB ? highest : 4 * k1GiB) + k1GiB - 1) & ~(k1GiB - 1),
        .use_1gib_pages = cpu::supports_1gib_pages(),
        .core_physical_base = core.physical_base,
    };
    BootDataPageAllocator table_allocator;
    uint64_t page_table_root =
        or_fail(build_page_tables(options, core_elf, table_allocator), "cannot build page tables");
    log("page tables: %llu GiB mapped, direct map with %s pages",
        static_cast<unsigned long long>(options.physical_limit / k1GiB),
        options.use_1gib_pages ? "1 GiB" : "2 MiB");

    uint64_t trampoline = or_fail(allocate_pages_below(1ull << 20, 1, handoff::kEfiTypeBootData),
                                  "no memory below 1 MiB for the AP trampoline");
    if (trampoline == 0) {
        // Page 0 is valid memory but looks like a null pointer to everyone; keep it allocated
        // (so nobody else gets it) and take another.
        trampoline = or_fail(allocate_pages_below(1ull << 20, 1, handoff::kEfiTypeBootData),
                             "no memory below 1 MiB for the AP trampoline");
    }
    uint64_t stack = or_fail(allocate_pages(pages_for(kBootStackSize), handoff::kEfiTypeBootData),
                             "cannot allocate the boot stack");
    auto* handoff = reinterpret_cast<handoff::Handoff*>(
        or_fail(allocate_pages(pages_for(sizeof(handoff::Handoff)), handoff::kEfiTypeBootData),
                "cannot allocate the hand-off"));

    handoff->magic = handoff::kMagic;
    handoff->version = handoff::kVersion;
    handoff->size = sizeof(handoff::Handoff);
    handoff->acpi_rsdp = find_acpi_rsdp(*system_table);
    handoff->framebuffer = framebuffer;
    handoff->module_count = state.modules.count();
    handoff->modules = state.modules.physical_address();
    handoff->core_physical_base = core.physical_base;
    handoff->core_image_size = core.size;
    handoff->page_table_root = page_table_root;
    handoff->boot_stack_base = stack;
    handoff->boot_stack_size = kBootStackSize;
    handoff->ap_trampoline = trampoline;
    handoff->boot_source = state.source->kind();
    handoff->loader_start_tsc = start_tsc;
    copy_string(handoff->boot_path, sizeof(handoff->boot_path), state.source->location());

    if (handoff->acpi_rsdp == 0)
        log("warning: the firmware has no ACPI tables");
    if (handoff->framebuffer.physical_base != 0)
        log("framebuffer: %ux%u at 0x%llx", handoff->framebuffer.width, handoff->framebuffer.height,
            static_cast<unsigned long long>(handoff->framebuffer.physical_base));
    log("starting the core");

    if (auto exited = exit_boot_services(*handoff); exited.is_error())
        fail("cannot leave the firmware", exited.error());

    enter_core(page_table_root, handoff::kDirectMapBase + stack + kBootStackSize, core.entry,
               reinterpret_cast<uint64_t>(handoff));
}
