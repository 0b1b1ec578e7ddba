// The VHD verbs on files: New-VHD, Get-VHD, Resize-VHD (vm_manager_vhd.hpp). The drive verbs
// and the integration services are in vm_manager_drives.cpp.
#include "vmm/worker/vm_manager_vhd.hpp"

#include "mgmt/datastore/datastore.hpp"
#include "mgmt/datastore/exfat/file_block_io.hpp"
#include "vhdx/resize.hpp"
#include "vmm/core/log.hpp"
#include "vmm/worker/datastore_lock.hpp"
#include "vmm/worker/datastore_mount.hpp"
#include "vmm/worker/vm.hpp"
#include "vmm/worker/vm_disks.hpp"
#include "vmm/worker/vm_manager_record.hpp"
#include "vmm/worker/vm_manager_vhd_rules.hpp"
#include "vmm/worker/vm_vmbus.hpp"

#include <new>

namespace halcyon::worker {
namespace {

// A file is named by at most every disk of every VM.
constexpr size_t kMaxUses = VmManager::kMaxVms * config::kMaxDisksPerVm;

ErrorOr<datastore::Datastore*> mounted_datastore() {
    datastore::Datastore* store = core_datastore();
    if (store == nullptr)
        return Error(ErrorCode::not_supported,
                     "no datastore is mounted (halcyon.cfg's datastore key; docs/datastore.md)");
    return store;
}

// A VHDX on the datastore, open for the length of one call; every use of the volume under the
// datastore's lock (VMs on other CPUs do their disk I/O meanwhile). Not movable: the BlockIo
// refers to the file next to it.
struct DatastoreVhd {
    DatastoreVhd() = default;
    DatastoreVhd(const DatastoreVhd&) = delete;
    DatastoreVhd& operator=(const DatastoreVhd&) = delete;
    ~DatastoreVhd() {
        // An error path: the first error is what the caller reports.
        if (disk != nullptr)
            (void)disk->close();
        mm::SpinLockGuard guard(datastore_lock());
        (void)file.close();
    }

    ErrorOr<void> create(datastore::Datastore& store, std::string_view path) {
        mm::SpinLockGuard guard(datastore_lock());
        file = TRY(store.create(path, 0));
        return {};
    }

    ErrorOr<void> open(datastore::Datastore& store, std::string_view path, bool writable) {
        {
            mm::SpinLockGuard guard(datastore_lock());
            file = TRY(
                store.open(path, writable ? exfat::OpenMode::read_write : exfat::OpenMode::read));
        }
        vhdx::OpenOptions options;
        options.read_only = !writable;
        options.random = &core_vhdx_random();
        disk = TRY(vhdx::Disk::open(io, core_library_allocator(), options));
        return {};
    }

    // Flushes the disk's log and headers, then the file's data and directory entry.
    ErrorOr<void> close() {
        vhdx::Disk* closing = disk;
        disk = nullptr;
        ErrorOr<void> closed = closing != nullptr ? closing->close() : ErrorOr<void>();
        mm::SpinLockGuard guard(datastore_lock());
        ErrorOr<void> file_closed = file.close();
        return closed.is_error() ? closed : file_closed;
    }

    exfat::File file;
    exfat::FileBlockIo file_io{file};
    DatastoreBlockIo io{file_io};
    vhdx::Disk* disk = nullptr;
};

ErrorOr<void> sync(datastore::Datastore& store) {
    mm::SpinLockGuard guard(datastore_lock());
    return store.sync();
}

mgmt::VhdType api_type(vhdx::DiskType type) {
    switch (type) {
    case vhdx::DiskType::fixed:
        return mgmt::VhdType::fixed;
    case vhdx::DiskType::dynamic:
        return mgmt::VhdType::dynamic;
    case vhdx::DiskType::differencing:
        return mgmt::VhdType::differencing;
    }
    return mgmt::VhdType::dynamic;
}

uint64_t allocated_blocks(const vhdx::DiskInfo& info) {
    return info.blocks.fully_present + info.blocks.partially_present;
}

} // namespace

VmVmbus* online_controller(Vm* vm) {
    if (vm == nullptr || vm->vmbus == nullptr || !vm->vmbus->has_scsi_controller())
        return nullptr;
    return vm->vmbus;
}

uint32_t VmManagerVhd::find_uses(std::string_view path, std::span<Use> out) {
    uint32_t count = 0;
    auto add = [&](const Use& use) {
        if (count < out.size())
            out[count] = use;
        ++count;
    };
    for (uint32_t i = 0; i < manager_.count(); ++i) {
        ErrorOr<VmReport> report = manager_.report_at(i);
        if (report.is_error())
            break;
        auto record = manager_.record_of(report.value().config->name);
        if (record.is_error())
            continue;
        const config::VmConfig& config = record.value()->config;
        // On a running controller the LUN table is the truth (it is what the guest sees); the
        // disk list says the same files, numbered for the next start.
        if (VmVmbus* bus = online_controller(record.value()->vm)) {
            for (uint32_t lun = 0; lun < VmVmbus::kMaxLuns; ++lun) {
                const char* name = bus->lun_path(lun);
                if (name != nullptr && same_datastore_file(name, path))
                    add(Use{config.name, lun, bus->lun_read_only(lun), true, bus});
            }
            continue;
        }
        for (uint32_t d = 0; d < config.disk_count; ++d) {
            if (same_datastore_file(config.disks[d].path, path))
                add(Use{config.name, d, config.disks[d].read_only, false, nullptr});
        }
    }
    return count;
}

mgmt::VhdInfo VmManagerVhd::describe(std::string_view path, const vhdx::DiskInfo& disk,
                                     uint64_t allocated) {
    mgmt::VhdInfo info;
    (void)info.path.assign(path);
    info.type = api_type(disk.type);
    info.size_bytes = disk.virtual_size;
    info.file_size_bytes = disk.file_size;
    info.block_size_bytes = disk.block_size;
    info.logical_sector_bytes = disk.logical_sector_size;
    info.physical_sector_bytes = disk.physical_sector_size;
    info.blocks = disk.payload_blocks;
    info.allocated_blocks = allocated;
    char id[40];
    disk.disk_id.format(id);
    (void)info.disk_id.assign(std::string_view(id, 36));
    Use uses[mgmt::kVhdAttachmentsMax];
    info.attachment_count = find_uses(path, uses);
    for (uint32_t i = 0; i < info.attachment_count && i < mgmt::kVhdAttachmentsMax; ++i) {
        mgmt::VhdAttachment& attachment = info.attachments[i];
        (void)attachment.vm.assign(uses[i].vm);
        attachment.lun = uses[i].lun;
        attachment.read_only = uses[i].read_only;
        attachment.online = uses[i].online;
    }
    return info;
}

ErrorOr<mgmt::VhdInfo> VmManagerVhd::read_vhd(std::string_view path) {
    datastore::Datastore& store = *TRY(mounted_datastore());
    DatastoreVhd vhd;
    TRY(vhd.open(store, path, /*writable=*/false));
    const vhdx::DiskInfo disk = vhd.disk->info();
    TRY(vhd.close());
    return describe(path, disk, allocated_blocks(disk));
}

ErrorOr<mgmt::VhdInfo> VmManagerVhd::create_vhd(const mgmt::VhdSpec& spec) {
    datastore::Datastore& store = *TRY(mounted_datastore());
    const std::string_view path = spec.path.view();
    vhdx::CreateOptions options;
    options.type =
        spec.type == mgmt::VhdType::fixed ? vhdx::DiskType::fixed : vhdx::DiskType::dynamic;
    options.virtual_size = spec.size_bytes;
    if (spec.block_size_bytes != 0)
        options.block_size = spec.block_size_bytes;
    options.logical_sector_size = spec.logical_sector_bytes;
    options.physical_sector_size = spec.physical_sector_bytes;
    options.random = &core_vhdx_random();

    DatastoreVhd vhd;
    TRY(vhd.create(store, path));
    ErrorOr<vhdx::Disk*> created = vhdx::Disk::create(vhd.io, core_library_allocator(), options);
    if (created.is_error()) {
        // Leave nothing behind: a retry (with other options, or once there is room) starts over.
        (void)vhd.close();
        mm::SpinLockGuard guard(datastore_lock());
        (void)store.volume().remove(datastore::Datastore::volume_path(path));
        (void)store.sync();
        return created.release_error();
    }
    vhd.disk = created.value();
    const vhdx::DiskInfo disk = vhd.disk->info();
    TRY(vhd.close());
    TRY(sync(store));
    log::info("vhd: created %.*s: %s, %llu MiB, %u KiB blocks, %u/%u-byte sectors, file %llu KiB",
              static_cast<int>(path.size()), path.data(), mgmt::vhd_type_name(spec.type),
              static_cast<unsigned long long>(disk.virtual_size >> 20), disk.block_size >> 10,
              disk.logical_sector_size, disk.physical_sector_size,
              static_cast<unsigned long long>(disk.file_size >> 10));
    return describe(path, disk, allocated_blocks(disk));
}

ErrorOr<mgmt::VhdInfo> VmManagerVhd::get_vhd(std::string_view path) {
    Use uses[kMaxUses];
    const uint32_t count = find_uses(path, uses);
    for (uint32_t i = 0; i < count && i < kMaxUses; ++i) {
        if (!uses[i].online)
            continue;
        // A running VM has it open: ask its disk (opening the file again would read it torn).
        uint64_t allocated = 0;
        const vhdx::DiskInfo disk = TRY(uses[i].vmbus->lun_info(uses[i].lun, allocated));
        return describe(path, disk, allocated);
    }
    return read_vhd(path);
}

ErrorOr<mgmt::VhdInfo> VmManagerVhd::resize_vhd(std::string_view path, uint64_t size_bytes) {
    Use uses[kMaxUses];
    const uint32_t count = find_uses(path, uses);
    for (uint32_t i = 0; i < count && i < kMaxUses; ++i) {
        if (!uses[i].online)
            continue;
        // Only a writer resizes, and a file in use by a writer has no other user (may_share).
        if (uses[i].read_only)
            return Error(ErrorCode::busy, "a running VM has the disk attached read-only: "
                                          "Resize-VHD needs it writable or the VM off");
        TRY(uses[i].vmbus->resize_disk(uses[i].lun, size_bytes));
        return get_vhd(path);
    }
    datastore::Datastore& store = *TRY(mounted_datastore());
    DatastoreVhd vhd;
    TRY(vhd.open(store, path, /*writable=*/true));
    const uint64_t before = vhd.disk->info().virtual_size;
    ErrorOr<void> resized = vhdx::resize(*vhd.disk, size_bytes);
    ErrorOr<void> closed = vhd.close();
    TRY(resized);
    TRY(closed);
    TRY(sync(store));
    log::info("vhd: resized %.*s: %llu -> %llu MiB", static_cast<int>(path.size()), path.data(),
              static_cast<unsigned long long>(before >> 20),
              static_cast<unsigned long long>(size_bytes >> 20));
    return read_vhd(path);
}

mgmt::VhdHost* make_vhd_host(VmManager& manager) {
    return new (std::nothrow) VmManagerVhd(manager);
}

} // namespace halcyon::worker
