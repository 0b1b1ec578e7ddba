// RDMSR/WRMSR of a guest that reached the hypervisor (everything the backend's permission map
// does not pass through). An allow list: an MSR not named here raises #GP in the guest, which is
// what a CPU without that MSR does, and never touches the host's MSRs.
//
// Emulated today:
//   EFER (0xC0000080)   the guest's own copy in the VMCB; SCE, LME, NXE, LMA writable as the
//                       CPU allows (LMA read-only), SVME and reserved bits #GP
//   PAT (0x277)         the guest PAT (G_PAT with nested paging); invalid memory types #GP
//   TSC (0x10)          the guest TSC (host TSC + the vCPU's offset); writes move the offset
//   APIC_BASE (0x1B)    reads 0xFEE00000 | enabled | BSP for vCPU 0; writes of that value only
//   MTRRcap (0xFE)      reads 0: no MTRRs
#pragma once

#include "vmm/cpu_backend.hpp"

#include <stdint.h>

namespace halcyon::vmm {

enum class MsrOutcome : uint8_t { done, general_protection };

[[nodiscard]] MsrOutcome read_msr(CpuBackend& cpu, uint32_t vcpu_index, uint32_t msr,
                                  uint64_t& value);
[[nodiscard]] MsrOutcome write_msr(CpuBackend& cpu, uint32_t vcpu_index, uint32_t msr,
                                   uint64_t value);

} // namespace halcyon::vmm
