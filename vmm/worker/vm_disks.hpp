// The disks of one VM (`disk =` lines of its halcyon.cfg section): each image the loader brought
// as a boot module is copied into an ExtentFile (memory extents: there is no datastore on a
// physical disk yet) and opened with the VHDX library. The VM's storage controller serves them.
#pragma once

#include "boot/config/config.hpp"
#include "boot/handoff/handoff.hpp"
#include "lib/base/error_or.hpp"
#include "mm/frame_allocator.hpp"
#include "vhdx/disk.hpp"

#include <stdint.h>

namespace halcyon::worker {

class VmDisks {
public:
    // Opens every disk of `config`. A disk that is missing or is not a valid VHDX fails the VM
    // with a message naming the file; nothing of the image is changed by a failed open.
    [[nodiscard]] static ErrorOr<VmDisks*> open(const config::VmConfig& config,
                                                const handoff::Handoff& handoff,
                                                mm::FrameAllocator& frames);
    ~VmDisks();

    [[nodiscard]] uint32_t count() const { return count_; }
    [[nodiscard]] vhdx::Disk& disk(uint32_t index) { return *disks_[index]; }
    [[nodiscard]] const char* name(uint32_t index) const;
    [[nodiscard]] bool read_only(uint32_t index) const;

private:
    struct Entry;
    VmDisks(const config::VmConfig& config, mm::FrameAllocator& frames)
        : config_(config), frames_(frames) {}
    [[nodiscard]] ErrorOr<void> open_one(uint32_t index, std::span<const uint8_t> image);

    const config::VmConfig& config_;
    mm::FrameAllocator& frames_;
    uint32_t count_ = 0;
    Entry* entries_[config::kMaxDisksPerVm] = {};
    vhdx::Disk* disks_[config::kMaxDisksPerVm] = {};
};

} // namespace halcyon::worker
