// The VHD verbs on VMs: Get-/Add-/Remove-VMHardDiskDrive (a VM's disk list and, while it runs,
// its SCSI controller) and Get-VMIntegrationService (vm_manager_vhd.hpp).
#include "mgmt/datastore/datastore.hpp"
#include "vmm/core/log.hpp"
#include "vmm/vmbus/ic/heartbeat_ic.hpp"
#include "vmm/vmbus/ic/kvp_ic.hpp"
#include "vmm/vmbus/ic/shutdown_ic.hpp"
#include "vmm/vmbus/ic/timesync_ic.hpp"
#include "vmm/worker/datastore_lock.hpp"
#include "vmm/worker/datastore_mount.hpp"
#include "vmm/worker/vm.hpp"
#include "vmm/worker/vm_manager_record.hpp"
#include "vmm/worker/vm_manager_vhd.hpp"
#include "vmm/worker/vm_manager_vhd_rules.hpp"
#include "vmm/worker/vm_vmbus.hpp"

#include <string.h>

namespace halcyon::worker {
namespace {

constexpr size_t kMaxUses = VmManager::kMaxVms * config::kMaxDisksPerVm;

mgmt::VmHardDiskDrive drive(uint32_t lun, const char* path, bool read_only, bool online) {
    mgmt::VmHardDiskDrive out;
    out.lun = lun;
    (void)out.path.assign(path);
    out.read_only = read_only;
    out.online = online;
    return out;
}

// The disk list entry the VM opened at `lun`: the entry at that position when it names the
// file (true until a disk before it was hot-removed), else the first that names it.
uint32_t list_entry(const config::VmConfig& config, uint32_t lun, const char* path) {
    if (lun < config.disk_count && strcmp(config.disks[lun].path, path) == 0)
        return lun;
    for (uint32_t i = 0; i < config.disk_count; ++i) {
        if (strcmp(config.disks[i].path, path) == 0 ||
            same_datastore_file(config.disks[i].path, path))
            return i;
    }
    return config.disk_count; // not listed (cannot happen: hot-adds are listed)
}

// Removes entry `index` of the disk list; `pinned` (the record's pins, kernel and initrd first)
// moves along with it.
void remove_entry(config::VmConfig& config, bool* pinned, uint32_t index) {
    for (uint32_t i = index; i + 1 < config.disk_count; ++i) {
        config.disks[i] = config.disks[i + 1];
        pinned[2 + i] = pinned[3 + i];
    }
    --config.disk_count;
    config.disks[config.disk_count] = config::VmDisk{};
    pinned[2 + config.disk_count] = false;
}

} // namespace

ErrorOr<uint32_t> VmManagerVhd::vm_disks(std::string_view vm,
                                         std::span<mgmt::VmHardDiskDrive> out) {
    auto* record = TRY(manager_.record_of(vm));
    uint32_t count = 0;
    if (VmVmbus* bus = online_controller(record->vm)) {
        for (uint32_t lun = 0; lun < VmVmbus::kMaxLuns; ++lun) {
            const char* path = bus->lun_path(lun);
            if (path == nullptr)
                continue;
            if (count < out.size())
                out[count] = drive(lun, path, bus->lun_read_only(lun), true);
            ++count;
        }
        return count;
    }
    const config::VmConfig& config = record->config;
    for (uint32_t i = 0; i < config.disk_count; ++i) {
        if (count < out.size())
            out[count] = drive(i, config.disks[i].path, config.disks[i].read_only, false);
        ++count;
    }
    return count;
}

ErrorOr<mgmt::VmHardDiskDrive> VmManagerVhd::add_vm_disk(std::string_view vm, std::string_view path,
                                                         bool read_only) {
    auto* record = TRY(manager_.record_of(vm));
    config::VmConfig& config = record->config;
    if (config.disk_count == config::kMaxDisksPerVm)
        return Error(ErrorCode::out_of_range, "the VM has 8 disks, the most a VM has");
    if (record->state == LifeState::stopping)
        return Error(ErrorCode::busy, "the VM is stopping");
    if (path.size() >= sizeof(config.disks[0].path))
        return Error(ErrorCode::invalid_argument, "the disk's path is too long");
    Use uses[kMaxUses];
    const uint32_t users = find_uses(path, uses);
    for (uint32_t i = 0; i < users && i < kMaxUses; ++i) {
        if (!may_share(uses[i].read_only, read_only)) {
            log::info("vhd: %.*s is attached to VM %s (LUN %u%s): not attached to VM %.*s",
                      static_cast<int>(path.size()), path.data(), uses[i].vm, uses[i].lun,
                      uses[i].read_only ? ", read-only" : "", static_cast<int>(vm.size()),
                      vm.data());
            return Error(ErrorCode::busy,
                         "the file is attached to a VM already: only read-only disks may be "
                         "shared (Get-VHD shows who uses it)");
        }
    }
    datastore::Datastore* store = core_datastore();
    exfat::EntryInfo entry;
    bool found = false;
    if (store != nullptr) {
        mm::SpinLockGuard guard(datastore_lock());
        found = !store->stat(path, entry).is_error() && !entry.directory;
    }
    if (!found)
        return Error(ErrorCode::not_found, "no such file on the datastore");

    uint32_t lun = config.disk_count;
    bool online = false;
    if (record->vm != nullptr) {
        if (record->vm->vmbus == nullptr)
            return Error(ErrorCode::not_supported,
                         "the VM runs without VMBus (no SCSI controller): add the disk while it "
                         "is off");
        lun = TRY(record->vm->vmbus->hot_add_disk(path, read_only));
        online = true;
    }
    config::VmDisk& listed = config.disks[config.disk_count++];
    memcpy(listed.path, path.data(), path.size());
    listed.path[path.size()] = '\0';
    listed.read_only = read_only;
    manager_.changed(vm);
    return drive(lun, listed.path, read_only, online);
}

ErrorOr<void> VmManagerVhd::remove_vm_disk(std::string_view vm, uint32_t lun) {
    auto* record = TRY(manager_.record_of(vm));
    config::VmConfig& config = record->config;
    if (record->vm == nullptr) {
        // Off: LUN = the position in the list. Changed the way Set-VM changes it.
        config::VmConfig& off = *TRY(manager_.config_to_change(vm));
        if (lun >= off.disk_count)
            return Error(ErrorCode::not_found, "the VM has no disk at this LUN");
        remove_entry(off, record->pinned, lun);
        manager_.changed(vm);
        return {};
    }
    if (record->state == LifeState::stopping)
        return Error(ErrorCode::busy, "the VM is stopping");
    VmVmbus* bus = online_controller(record->vm);
    if (bus == nullptr)
        return Error(ErrorCode::busy,
                     "the VM runs without a SCSI controller: stop it to change its disks");
    const char* live = bus->lun_path(lun);
    if (live == nullptr)
        return Error(ErrorCode::not_found, "the VM has no disk at this LUN");
    const uint32_t index = list_entry(config, lun, live);
    if (index < config.disk_count && record->pinned[2 + index])
        return Error(ErrorCode::busy, "the disk is an uploaded file the running VM holds");
    TRY(bus->hot_remove_disk(lun));
    if (index < config.disk_count)
        remove_entry(config, record->pinned, index);
    manager_.changed(vm);
    return {};
}

ErrorOr<uint32_t> VmManagerVhd::integration_services(std::string_view vm,
                                                     std::span<mgmt::IntegrationService> out) {
    auto* record = TRY(manager_.record_of(vm));
    using vmm::vmbus::ic::IcService;
    VmVmbus* bus = record->vm != nullptr ? record->vm->vmbus : nullptr;
    struct Service {
        const char* name; // Hyper-V's
        const IcService* channel;
    };
    const Service services[] = {
        {"Heartbeat", bus ? &bus->heartbeat_service() : nullptr},
        {"Key-Value Pair Exchange", bus ? &bus->kvp_service() : nullptr},
        {"Shutdown", bus ? &bus->shutdown_service() : nullptr},
        {"Time Synchronization", bus ? &bus->timesync_service() : nullptr},
    };
    uint32_t count = 0;
    for (const Service& service : services) {
        if (count == out.size())
            break;
        mgmt::IntegrationService& shown = out[count++];
        shown = mgmt::IntegrationService{};
        (void)shown.name.assign(service.name);
        shown.enabled = record->config.vmbus;
        if (service.channel == nullptr)
            continue; // off, or no VMBus: no status, as Hyper-V shows none
        const vmm::vmbus::ic::IcStatus status = service.channel->ic_status();
        shown.status = integration_status(status);
        (void)shown.detail.assign(vmm::vmbus::ic::ic_state_name(status.state));
        if (status.state == vmm::vmbus::ic::IcState::ready) {
            shown.version_major = status.message.major;
            shown.version_minor = status.message.minor;
        }
        if (service.channel == &bus->heartbeat_service()) {
            const vmm::vmbus::ic::HeartbeatInfo beats = bus->heartbeat_service().info();
            shown.status = heartbeat_status(status, beats.status);
            (void)shown.detail.assign(
                vmm::vmbus::ic::heartbeat_display_name(beats.status, beats.application));
        }
    }
    return count;
}

} // namespace halcyon::worker
