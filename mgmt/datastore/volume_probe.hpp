// A quick look at a device (or partition) before mounting it: is there an exFAT volume, is its
// boot region valid, and what is its label? It reads the boot region and the first cluster of
// the root directory only, so the boot can look at every disk cheaply; the full validation is
// the mount's (exfat::Volume::mount). Never writes.
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/datastore/exfat/layout.hpp"
#include "mgmt/datastore/exfat/memory.hpp"
#include "mgmt/datastore/exfat/sector_device.hpp"

#include <stdint.h>

namespace halcyon::datastore {

inline constexpr size_t kMaxLabelBytes = exfat::layout::kMaxLabelLength * 3 + 1;

struct VolumeProbe {
    // Sector 0 names the file system "EXFAT   ": the device holds an exFAT volume (valid or not).
    bool exfat = false;
    // The boot region passed validation and the label was read; else `problem` says why not.
    bool valid = false;
    const char* problem = nullptr;
    uint64_t volume_bytes = 0;
    char label[kMaxLabelBytes] = {}; // UTF-8, empty when the volume has no label
};

// Errors are device errors and lack of memory; what the device holds is described in the
// result. `allocator` provides the boot region buffer (12 sectors) for the time of the call.
[[nodiscard]] ErrorOr<VolumeProbe> probe_volume(exfat::SectorDevice& device,
                                                exfat::Allocator& allocator);

// ASCII case-insensitive comparison (labels are matched the way users type them).
[[nodiscard]] bool label_equals(const char* a, const char* b);

} // namespace halcyon::datastore
