// The files a loader brings to the core as handoff::Modules, and their names. Both loaders (UEFI
// and Multiboot2) and the image tool follow this one list so the core sees the same modules
// whichever way it was booted: "halcyon.cfg", "halcyon.elf", then each VM's kernel, initrd and
// disk images, named by the path as written in halcyon.cfg. (Such disk images live in memory;
// "ds:PATH" files are on the datastore disk and not brought by the loader.)
#pragma once

#include "boot/config/config.hpp"

#include <stdint.h>

namespace halcyon::loader {

inline constexpr const char* kConfigFileName = "halcyon.cfg";
inline constexpr const char* kCoreFileName = "halcyon.elf";
// The configuration, the core, and per VM its kernel, initrd and disk images.
inline constexpr uint32_t kMaxBootModules = 2 + (2 + config::kMaxDisksPerVm) * config::kMaxVms;

// Calls visit(const char* path) for every VM file the core needs from the loader, in
// configuration order (each VM's kernel, its initrd, then its disks). A path two VMs share is
// visited twice: loaders load it once. Files on the datastore ("ds:PATH") are not the loader's:
// the core reads them from its disk.
template <typename Visit>
void for_each_vm_file(const config::BootConfig& boot_config, Visit&& visit) {
    auto wanted = [](const char* path) {
        return path[0] != '\0' && !config::is_datastore_path(path);
    };
    for (uint32_t i = 0; i < boot_config.vm_count; ++i) {
        const config::VmConfig& vm = boot_config.vms[i];
        if (wanted(vm.kernel))
            visit(static_cast<const char*>(vm.kernel));
        if (wanted(vm.initrd))
            visit(static_cast<const char*>(vm.initrd));
        for (uint32_t d = 0; d < vm.disk_count && d < config::kMaxDisksPerVm; ++d)
            if (wanted(vm.disks[d].path))
                visit(static_cast<const char*>(vm.disks[d].path));
    }
}

} // namespace halcyon::loader
