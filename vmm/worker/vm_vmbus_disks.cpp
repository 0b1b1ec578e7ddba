// A running VM's disks on its synthetic SCSI controller: hot-add, hot-remove and online resize
// for the VHD verbs (vm_manager_vhd.hpp), on the management CPU while the guest's vCPUs drive
// the controller elsewhere.
//
// Who may look at what: the controller (and the disks inside it) only under its own lock
// (LockedScsiController); the LUN table luns_ is written here only, under the VM's lock, because
// the periodic tick reads it under that lock on whichever CPU runs it (report_trims). Slow work
// (opening a VHDX on the datastore, closing it) happens outside both locks, on objects no one
// else can reach yet or any more.
#include "vmm/core/log.hpp"
#include "vmm/vmbus/storvsp/vhdx_block_device.hpp"
#include "vmm/worker/locked_scsi_controller.hpp"
#include "vmm/worker/vm.hpp"
#include "vmm/worker/vm_disks.hpp"
#include "vmm/worker/vm_vmbus.hpp"

#include <new>

namespace halcyon::worker {
namespace {

using vmm::storvsp::Controller;
using vmm::storvsp::VhdxBlockDevice;

} // namespace

void VmVmbus::deliver_scsi_notifications() {
    if (scsi_ != nullptr)
        scsi_->deliver_notifications();
}

const char* VmVmbus::lun_path(uint32_t lun) const {
    return lun < kMaxLuns && luns_[lun] != nullptr ? disks_->name(lun) : nullptr;
}

bool VmVmbus::lun_read_only(uint32_t lun) const {
    return lun < kMaxLuns && luns_[lun] != nullptr && disks_->read_only(lun);
}

ErrorOr<vhdx::DiskInfo> VmVmbus::lun_info(uint32_t lun, uint64_t& allocated) {
    if (lun_path(lun) == nullptr)
        return Error(ErrorCode::not_found, "no disk at this LUN");
    VhdxBlockDevice& device = *luns_[lun];
    // The guest's I/O changes the disk under the controller's lock: read it under that lock.
    return scsi_->with_controller([&](Controller&) -> vhdx::DiskInfo {
        allocated = device.allocated_blocks();
        return device.disk().info();
    });
}

ErrorOr<uint32_t> VmVmbus::hot_add_disk(std::string_view path, bool read_only) {
    if (scsi_ == nullptr)
        return Error(ErrorCode::not_supported,
                     "the VM started without disks, so it has no SCSI controller until it "
                     "restarts: add the disk while it is off");
    // The slow part first, out of every lock: nothing else knows this slot yet.
    const uint32_t lun = TRY(disks_->add(path, read_only));
    auto* device = new (std::nothrow) VhdxBlockDevice(disks_->disk(lun), read_only);
    if (device == nullptr) {
        disks_->close(lun);
        return Error(ErrorCode::out_of_memory, "no memory for the disk");
    }
    ErrorOr<void> attached;
    {
        mm::SpinLockGuard guard(vm_.lock);
        attached = scsi_->with_controller([&](Controller& controller) {
            return controller.attach(static_cast<uint8_t>(lun), *device);
        });
        if (!attached.is_error()) {
            luns_[lun] = device;
            lun_count_ = lun >= lun_count_ ? lun + 1 : lun_count_;
        }
    }
    if (attached.is_error()) {
        delete device;
        disks_->close(lun);
        return attached.release_error();
    }
    // Logged before the guest hears of it, so the host's line always comes first.
    log::info("vm %s: disk %s hot-added at LUN %u%s", vm_.config.name, disks_->name(lun), lun,
              read_only ? " (read-only)" : "");
    deliver_scsi_notifications();
    return lun;
}

ErrorOr<void> VmVmbus::hot_remove_disk(uint32_t lun) {
    if (lun_path(lun) == nullptr)
        return Error(ErrorCode::not_found, "no disk at this LUN");
    VhdxBlockDevice* device = luns_[lun];
    {
        mm::SpinLockGuard guard(vm_.lock);
        TRY(scsi_->with_controller(
            [&](Controller& controller) { return controller.detach(static_cast<uint8_t>(lun)); }));
        luns_[lun] = nullptr;
    }
    // Out of the controller now, and out of the table the tick reads: only this CPU holds it.
    const VhdxBlockDevice::TrimReport trims = device->take_trim_report();
    log::info("vm %s: disk %s hot-removed from LUN %u (%llu of %llu payload blocks allocated%s)",
              vm_.config.name, disks_->name(lun), lun,
              static_cast<unsigned long long>(device->allocated_blocks()),
              static_cast<unsigned long long>(device->payload_blocks()),
              trims.trims != 0 ? ", trimmed since the last report" : "");
    delete device;
    disks_->close(lun);
    deliver_scsi_notifications(); // the guest drops the disk when it rescans
    return {};
}

ErrorOr<void> VmVmbus::resize_disk(uint32_t lun, uint64_t size_bytes) {
    if (lun_path(lun) == nullptr)
        return Error(ErrorCode::not_found, "no disk at this LUN");
    const uint64_t before = luns_[lun]->sector_count() * luns_[lun]->logical_sector_size();
    TRY(scsi_->with_controller([&](Controller& controller) {
        return controller.resize(static_cast<uint8_t>(lun), size_bytes);
    }));
    log::info("vm %s: disk %s at LUN %u resized online: %llu -> %llu MiB", vm_.config.name,
              disks_->name(lun), lun, static_cast<unsigned long long>(before >> 20),
              static_cast<unsigned long long>(size_bytes >> 20));
    deliver_scsi_notifications();
    return {};
}

} // namespace halcyon::worker
