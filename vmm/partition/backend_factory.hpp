// Which hardware backend a new vCPU gets: SVM on AMD, VT-x on Intel (issue #8). The partition
// asks here, so it never names a vendor itself.
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/ept_or_npt.hpp"
#include "mm/frame_allocator.hpp"
#include "vmm/cpu_backend.hpp"
#include "vmm/hyperv/partition_info.hpp"

namespace halcyon::vmm {

// A backend for one vCPU of the calling CPU's virtualization kind; an error when this CPU has
// none the core can drive.
[[nodiscard]] ErrorOr<CpuBackend*> create_cpu_backend(mm::FrameAllocator& frames,
                                                      const BackendSetup& setup);

// The nested-paging format the calling CPU's backends walk (NPT on SVM, EPT on VT-x): the
// partition builds its guest-physical tables in it.
[[nodiscard]] mm::NestedFormat nested_table_format();

// The vendor whose hypercall instruction the guests of this CPU trap with (VMMCALL on AMD,
// VMCALL on Intel), for the Hyper-V hypercall page.
[[nodiscard]] hyperv::CpuVendor hypercall_vendor();

} // namespace halcyon::vmm
