// Which hardware backend a new vCPU gets: SVM on AMD, VT-x on Intel (issue #8). The partition
// asks here, so it never names a vendor itself.
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/frame_allocator.hpp"
#include "vmm/cpu_backend.hpp"

namespace halcyon::vmm {

// A backend for one vCPU of the calling CPU's virtualization kind; an error when this CPU has
// none the core can drive.
[[nodiscard]] ErrorOr<CpuBackend*> create_cpu_backend(mm::FrameAllocator& frames,
                                                      const BackendSetup& setup);

} // namespace halcyon::vmm
