// The files a VM names (kernel, initrd): a boot module the loader brought, or a "ds:PATH" file on
// the datastore (vmm/worker/datastore_mount.hpp), read once into contiguous host memory and kept
// for the life of the host, so a VM reboot loads the same bytes again.
#pragma once

#include "boot/handoff/handoff.hpp"
#include "lib/base/error_or.hpp"
#include "mm/frame_allocator.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::worker {

// The bytes of file `path` as halcyon.cfg names it: not_found when the loader brought no module
// of that name (or the datastore has no such file), or the datastore's error.
[[nodiscard]] ErrorOr<std::span<const uint8_t>>
vm_file_bytes(const handoff::Handoff& handoff, mm::FrameAllocator& frames, const char* path);

} // namespace halcyon::worker
