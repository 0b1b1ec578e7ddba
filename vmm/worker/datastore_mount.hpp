// The core's datastore (issue #7 item 4): after the disks are started, the exFAT volume chosen by
// halcyon.cfg's `datastore` key is found (mgmt/datastore/locate.hpp), fully validated and
// mounted, and reported in one line:
//
//   datastore: virtio-blk 00:03.0 partition 1 exFAT HALCYON-DS, 255 MiB, 212 MiB free
//
// A damaged volume is refused with an error naming the damage, and nothing is written to it.
// Nothing here stops the boot: without a datastore, VMs whose files are "ds:PATH" fail to start
// with a message saying so.
#pragma once

#include "boot/config/config.hpp"
#include "mgmt/datastore/datastore.hpp"
#include "vhdx/allocator.hpp"

namespace halcyon::worker {

// Finds and mounts the datastore (once; call after drivers::block::start_core_storage).
void mount_datastore(const config::BootConfig& config);

// The mounted datastore, or nullptr.
[[nodiscard]] datastore::Datastore* core_datastore();

// The core heap as the Allocator of the exFAT and VHDX libraries.
[[nodiscard]] vhdx::Allocator& core_library_allocator();

} // namespace halcyon::worker
