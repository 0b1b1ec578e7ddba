// The disks of one VM (`disk =` lines of its halcyon.cfg section), opened with the VHDX library:
//   - "ds:PATH": a VHDX file on the datastore (vmm/worker/datastore_mount.hpp), through
//     exfat::FileBlockIo on the exFAT file on the physical disk: writes persist, and a guest's
//     flush (SCSI SYNCHRONIZE CACHE) reaches the disk's flush command;
//   - any other path: the image the loader brought as a boot module, copied into an ExtentFile
//     (memory extents: changes vanish at power-off).
// The VM's storage controller serves them, slot i at LUN i. While the VM runs, the VHD verbs
// (vm_manager_vhd.hpp) add datastore disks to empty slots (hot-add) and close slots (hot-remove),
// so slots may have gaps; each slot keeps its own copy of its path, independent of the VM's
// configuration (which the management may change while the VM runs).
#pragma once

#include "boot/config/config.hpp"
#include "boot/handoff/handoff.hpp"
#include "lib/base/error_or.hpp"
#include "mm/frame_allocator.hpp"
#include "vhdx/disk.hpp"

#include <stdint.h>
#include <string_view>

namespace halcyon::worker {

// GUIDs for VHDX headers from the CPU's random generator: for everything in the core that
// writes VHDX files (the VMs' disks, the VHD verbs).
[[nodiscard]] vhdx::RandomSource& core_vhdx_random();

class VmDisks {
public:
    // Opens every disk of `config`. A disk that is missing or is not a valid VHDX fails the VM
    // with a message naming the file; nothing of the image is changed by a failed open.
    [[nodiscard]] static ErrorOr<VmDisks*> open(const config::VmConfig& config,
                                                const handoff::Handoff& handoff,
                                                mm::FrameAllocator& frames);
    ~VmDisks();

    // Slots 0..count()-1; present() is false for a slot emptied by close().
    [[nodiscard]] uint32_t count() const { return count_; }
    [[nodiscard]] bool present(uint32_t index) const { return disks_[index] != nullptr; }
    [[nodiscard]] vhdx::Disk& disk(uint32_t index) { return *disks_[index]; }
    [[nodiscard]] const char* name(uint32_t index) const;
    [[nodiscard]] bool read_only(uint32_t index) const;

    // Opens datastore disk `path` ("ds:PATH") in the first empty slot and returns the slot
    // (hot-add); nothing is kept when it fails.
    [[nodiscard]] ErrorOr<uint32_t> add(std::string_view path, bool read_only);
    // Closes the disk in slot `index` (hot-remove; its datastore file is closed and the volume
    // synced) and empties the slot.
    void close(uint32_t index);

private:
    struct Entry;
    VmDisks(const config::VmConfig& config, mm::FrameAllocator& frames)
        : config_(config), frames_(frames) {}
    [[nodiscard]] ErrorOr<void> open_disk(uint32_t index, const handoff::Handoff& handoff);
    // Closes slot `index` (nothing if empty); true when it held a datastore file.
    [[nodiscard]] bool close_slot(uint32_t index);
    [[nodiscard]] ErrorOr<void> open_one(uint32_t index, std::span<const uint8_t> image);
    [[nodiscard]] ErrorOr<void> open_on_datastore(uint32_t index);
    void log_opened(uint32_t index, const char* where, uint64_t image_bytes) const;

    const config::VmConfig& config_;
    mm::FrameAllocator& frames_;
    uint32_t count_ = 0;
    char names_[config::kMaxDisksPerVm][config::kMaxPath] = {};
    bool read_only_[config::kMaxDisksPerVm] = {};
    Entry* entries_[config::kMaxDisksPerVm] = {};
    struct DatastoreEntry;
    DatastoreEntry* datastore_entries_[config::kMaxDisksPerVm] = {};
    vhdx::Disk* disks_[config::kMaxDisksPerVm] = {};
};

} // namespace halcyon::worker
