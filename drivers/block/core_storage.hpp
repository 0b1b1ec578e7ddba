// The core's disks: at boot, every supported disk on the PCI bus is started and reported on the
// log (probe.hpp), and with the self-test switch the scratch-disk self-test runs (selftest.hpp).
// Core only: DMA memory from the frame allocator, MMIO mappings and TSC delays come from the
// management network's core platform (mgmt/net/core_platform.hpp), PCI through the legacy
// configuration ports. Disks that fail are reported and skipped; nothing here stops the boot.
#pragma once

#include "drivers/block/probe.hpp"
#include "mm/frame_allocator.hpp"

#include <stdint.h>

namespace halcyon::drivers::block {

struct CoreStorageOptions {
    uint64_t tsc_hz = 0;
    bool selftest = false; // halcyon.cfg's storage self-test switch
};

// Probes once; later calls return the same set. nullptr when the probe could not run at all.
DiskSet* start_core_storage(mm::FrameAllocator& frames, const CoreStorageOptions& options);

// The disks found by start_core_storage (nullptr before it ran).
[[nodiscard]] DiskSet* core_disks();

// The DMA memory the disks use (for a BounceBuffer of the datastore); nullptr before the probe.
[[nodiscard]] DmaAllocator* core_storage_dma();

} // namespace halcyon::drivers::block
