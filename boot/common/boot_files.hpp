// The files a loader brings to the core as handoff::Modules, and their names. Both loaders (UEFI
// and Multiboot2) and the image tool follow this one list so the core sees the same modules
// whichever way it was booted: "halcyon.cfg", "halcyon.elf", then each VM's kernel, initrd and
// disk images, named by the path as written in halcyon.cfg. (Disk images live in memory until
// Halcyon has a datastore on a physical disk.)
#pragma once

#include "boot/config/config.hpp"

#include <stdint.h>

namespace halcyon::loader {

inline constexpr const char* kConfigFileName = "halcyon.cfg";
inline constexpr const char* kCoreFileName = "halcyon.elf";
// The configuration, the core, and per VM its kernel, initrd and disk images.
inline constexpr uint32_t kMaxBootModules = 2 + (2 + config::kMaxDisksPerVm) * config::kMaxVms;

// Calls visit(const char* path) for every VM file the core needs, in configuration order (each
// VM's kernel, its initrd, then its disks). A path two VMs share is visited twice: loaders load
// it once.
template <typename Visit>
void for_each_vm_file(const config::BootConfig& boot_config, Visit&& visit) {
    for (uint32_t i = 0; i < boot_config.vm_count; ++i) {
        const config::VmConfig& vm = boot_config.vms[i];
        if (vm.kernel[0] != '\0')
            visit(static_cast<const char*>(vm.kernel));
        if (vm.initrd[0] != '\0')
            visit(static_cast<const char*>(vm.initrd));
        for (uint32_t d = 0; d < vm.disk_count && d < config::kMaxDisksPerVm; ++d)
            visit(static_cast<const char*>(vm.disks[d].path));
    }
}

} // namespace halcyon::loader
