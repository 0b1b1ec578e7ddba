// The CPUID a guest sees: the host's values, edited by a fixed policy. Pure (the host's CPUID
// comes in as a function), so the policy is unit-tested against recorded CPUs.
//
// Policy (documented in docs/partition-interface.md):
//   - the hypervisor-present bit (leaf 1 ECX[31]) is set;
//   - leaves 0x40000000.. identify Halcyon: max leaf 0x40000001, vendor "HalcyonHyper";
//     0x40000001 reports interface 0 ("none": no hypercall interface yet; issue #7 brings the
//     Hyper-V leaves);
//   - features we do not virtualize are hidden: SVM and VMX, x2APIC, MONITOR/MWAIT(X),
//     performance counters (PDCM, leaf 0xA, AMD PerfCtrExt*, IBS), XSAVE/AVX (XCR0 is not
//     switched yet), RDTSCP (TSC_AUX is not switched), SKINIT, the SVM leaf 0x8000000A;
//   - topology: APIC ID = vCPU index, logical processor count = vCPU count; leaves 0xB/0x1F
//     (x2APIC topology) are empty.
#pragma once

#include "vmm/virt/features.hpp"

#include <stdint.h>

namespace halcyon::vmm {

// The hypervisor leaves 0x40000000-0x4000FFFF are the Hyper-V interface's (vmm/hyperv); the
// partition asks it first, and this policy answers them with zeros.

struct CpuidContext {
    uint32_t vcpu_index = 0;
    uint32_t vcpu_count = 1;
};

using HostCpuid = virt::CpuidRegisters (*)(uint32_t leaf, uint32_t subleaf);

[[nodiscard]] virt::CpuidRegisters guest_cpuid(uint32_t leaf, uint32_t subleaf,
                                               const CpuidContext& context, HostCpuid host);

} // namespace halcyon::vmm
