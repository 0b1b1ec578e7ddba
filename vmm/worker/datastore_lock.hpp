// One lock for the datastore. Its exFAT volume (exfat::Volume, its sector cache, the block driver
// under it) is not thread-safe, yet several CPUs use it: a VM's disk I/O runs on the CPU that
// runs the vCPU that asked (storvsp, inside the guest's request), while the VM manager and the
// management verbs (starting VMs, New-VHD, Resize-VHD, hot-add) run on the BSP. Every call into
// the Datastore, an open exfat::File or a FileBlockIo holds datastore_lock(); VHDX files on the
// datastore take it in each BlockIo call through DatastoreBlockIo.
//
// It is a spinlock held for one call at a time (one device command or a few), never while
// waiting for a guest. Lock order: a SCSI controller's lock (LockedScsiController) may be held
// when taking it, never the other way round; nothing else is taken while it is held.
#pragma once

#include "mm/spinlock.hpp"
#include "vhdx/block_io.hpp"

namespace halcyon::worker {

inline mm::SpinLock g_datastore_lock;

[[nodiscard]] inline mm::SpinLock& datastore_lock() {
    return g_datastore_lock;
}

// `inner` (a FileBlockIo on the datastore) with datastore_lock() held in every call.
class DatastoreBlockIo final : public vhdx::BlockIo {
public:
    explicit DatastoreBlockIo(vhdx::BlockIo& inner) : inner_(inner) {}

    [[nodiscard]] ErrorOr<void> read(uint64_t offset, std::span<uint8_t> buffer) override {
        mm::SpinLockGuard guard(datastore_lock());
        return inner_.read(offset, buffer);
    }
    [[nodiscard]] ErrorOr<void> write(uint64_t offset, std::span<const uint8_t> data) override {
        mm::SpinLockGuard guard(datastore_lock());
        return inner_.write(offset, data);
    }
    [[nodiscard]] ErrorOr<void> flush() override {
        mm::SpinLockGuard guard(datastore_lock());
        return inner_.flush();
    }
    [[nodiscard]] ErrorOr<uint64_t> size() override {
        mm::SpinLockGuard guard(datastore_lock());
        return inner_.size();
    }
    [[nodiscard]] ErrorOr<void> set_size(uint64_t size) override {
        mm::SpinLockGuard guard(datastore_lock());
        return inner_.set_size(size);
    }
    [[nodiscard]] bool read_only() const override { return inner_.read_only(); }

private:
    vhdx::BlockIo& inner_;
};

} // namespace halcyon::worker
