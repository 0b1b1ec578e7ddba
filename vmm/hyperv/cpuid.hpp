// The Hyper-V CPUID leaves 0x40000000-0x4000FFFF a Halcyon guest sees. They describe exactly
// what vmm/hyperv implements (docs/hyperv.md has the table and the reasons):
//   0x40000000  max leaf 0x40000006, vendor "Microsoft Hv"
//   0x40000001  interface "Hv#1"
//   0x40000002  version: Windows Server 2012 R2 (6.3, build 9600)
//   0x40000003  privileges: reference counter, SynIC, synthetic timers, hypercall MSRs, VP index,
//               reference TSC page, frequency MSRs, invariant-TSC control; EBX: post messages,
//               signal events; EDX: frequency MSRs available, hypercall MSR lock, direct-mode
//               synthetic timers.
//   0x40000004  recommendations: relaxed timing, deprecate AutoEOI; spinlock retries: never
//               notify
//   0x40000005  limits: 64 virtual processors
//   0x40000006  hardware features in use: MSR bitmaps, second-level address translation
// Every other leaf of the range reads as zero.
#pragma once

#include "vmm/hyperv/partition_info.hpp"
#include "vmm/virt/features.hpp"

#include <optional>
#include <stdint.h>

namespace halcyon::vmm::hyperv {

inline constexpr uint32_t kMaxLeaf = 0x4000'0006;
inline constexpr char kVendor[] = "Microsoft Hv";
static_assert(sizeof(kVendor) == 13);

// Windows Server 2012 R2: the Hyper-V release whose feature set Halcyon models.
inline constexpr uint32_t kVersionBuild = 9600;
inline constexpr uint16_t kVersionMajor = 6;
inline constexpr uint16_t kVersionMinor = 3;

// The privileges (0x40000003 EAX, EBX), features (EDX) and recommendations (0x40000004 EAX)
// of what is implemented.
[[nodiscard]] uint32_t implemented_privileges();
[[nodiscard]] uint32_t implemented_privileges_ebx();
[[nodiscard]] uint32_t implemented_features_edx();
[[nodiscard]] uint32_t implemented_recommendations();

// The leaf's registers for `leaf` in 0x40000000-0x4000FFFF (the subleaf does not matter there),
// std::nullopt for any other leaf (the caller's own CPUID policy answers those).
[[nodiscard]] std::optional<virt::CpuidRegisters> hyperv_cpuid(uint32_t leaf,
                                                               const HypervPartitionInfo& info);

} // namespace halcyon::vmm::hyperv
