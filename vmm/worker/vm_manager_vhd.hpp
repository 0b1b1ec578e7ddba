// The management API's VhdHost (mgmt/api/vhd_host.hpp) over the VM manager and the datastore:
// what halctl's New-VHD, Get-VHD, Resize-VHD, Get-/Add-/Remove-VMHardDiskDrive and
// Get-VMIntegrationService do on a host that runs VMs (docs/management-api.md).
//
//   - VHD files live on the datastore (worker::core_datastore(), "ds:" paths) and are made,
//     read and resized with the VHDX library over exFAT files, as the VMs' disks are.
//   - A file on a running VM's SCSI controller is that VM's: Get-VHD reads the open disk and
//     Resize-VHD resizes it online through the controller (the guest gets CAPACITY DATA HAS
//     CHANGED and re-reads the size); other files are opened for the call and closed again.
//   - Add-/Remove-VMHardDiskDrive change the VM's disk list (its configuration, as Set-VM's
//     -Disk does) and, while it runs, hot-add/hot-remove the disk on its controller
//     (VmVmbus::hot_add_disk / hot_remove_disk; the guest rescans its bus).
//   - A file may be named by several VMs' disk lists only if every one of them is read-only.
//
// Everything runs on the management CPU, called by the API server inside the manager's own
// housekeeping (as VmManagerHost), one call at a time. Opening, creating and resizing a VHDX
// does datastore I/O in the call: the CPU's vCPUs wait meanwhile (milliseconds for a dynamic
// disk; a fixed disk's clusters are allocated, not written).
#pragma once

#include "mgmt/api/vhd_host.hpp"
#include "vhdx/disk.hpp"
#include "vmm/worker/vm_manager.hpp"

#include <span>

namespace halcyon::worker {

class Vm;
class VmVmbus;

class VmManagerVhd final : public mgmt::VhdHost {
public:
    explicit VmManagerVhd(VmManager& manager) : manager_(manager) {}

    // vm_manager_vhd.cpp: the files.
    [[nodiscard]] ErrorOr<mgmt::VhdInfo> create_vhd(const mgmt::VhdSpec& spec) override;
    [[nodiscard]] ErrorOr<mgmt::VhdInfo> get_vhd(std::string_view path) override;
    [[nodiscard]] ErrorOr<mgmt::VhdInfo> resize_vhd(std::string_view path,
                                                    uint64_t size_bytes) override;

    // vm_manager_drives.cpp: a VM's disks and integration services.
    [[nodiscard]] ErrorOr<uint32_t> vm_disks(std::string_view vm,
                                             std::span<mgmt::VmHardDiskDrive> out) override;
    [[nodiscard]] ErrorOr<mgmt::VmHardDiskDrive>
    add_vm_disk(std::string_view vm, std::string_view path, bool read_only) override;
    [[nodiscard]] ErrorOr<void> remove_vm_disk(std::string_view vm, uint32_t lun) override;
    [[nodiscard]] ErrorOr<uint32_t>
    integration_services(std::string_view vm, std::span<mgmt::IntegrationService> out) override;

private:
    // One VM's use of a file: on its running SCSI controller (online, at a LUN), else an entry
    // of its disk list (the LUN it gets at the next start).
    struct Use {
        const char* vm = nullptr;
        uint32_t lun = 0;
        bool read_only = false;
        bool online = false;
        VmVmbus* vmbus = nullptr; // online only
    };
    // The uses of `path` by every VM, in Get-VM's order, into `out`; returns how many there
    // are (more than out.size() when some did not fit).
    [[nodiscard]] uint32_t find_uses(std::string_view path, std::span<Use> out);
    // Get-VHD of a file nobody has online: opened read-only for the call.
    [[nodiscard]] ErrorOr<mgmt::VhdInfo> read_vhd(std::string_view path);
    // Get-VHD's answer: the disk's facts and the file's users.
    [[nodiscard]] mgmt::VhdInfo describe(std::string_view path, const vhdx::DiskInfo& disk,
                                         uint64_t allocated_blocks);

    VmManager& manager_;
};

// The host's VhdHost for the management server (null without memory for it).
[[nodiscard]] mgmt::VhdHost* make_vhd_host(VmManager& manager);

// The VMBus of live VM `vm` when it has a SCSI controller (its disks are online), else null.
[[nodiscard]] VmVmbus* online_controller(Vm* vm);

} // namespace halcyon::worker
