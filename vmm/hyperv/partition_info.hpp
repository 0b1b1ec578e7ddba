// The facts about a partition that the Hyper-V interface reports or depends on, fixed when the
// partition is created.
#pragma once

#include <stdint.h>

namespace halcyon::vmm::hyperv {

// Which instruction the hypercall page uses to leave the guest.
enum class CpuVendor : uint8_t { amd, intel };

// The implementation limit CPUID 0x40000005 reports (vmm/partition's kMaxVcpusPerPartition).
inline constexpr uint32_t kMaxVirtualProcessors = 64;
// The platform's LAPIC timer input clock (100 MHz, docs/partition-interface.md).
inline constexpr uint64_t kPlatformApicTimerHz = 100'000'000;

struct HypervPartitionInfo {
    uint64_t tsc_hz = 0;       // guest TSC frequency (= host TSC), HV_X64_MSR_TSC_FREQUENCY
    uint64_t creation_tsc = 0; // guest TSC when the partition was created: reference time 0
    uint64_t apic_timer_hz = kPlatformApicTimerHz; // HV_X64_MSR_APIC_FREQUENCY
    // Guest-physical address space size: hypercall parameters must lie below it.
    uint64_t guest_physical_size = 0;
    uint32_t vcpu_count = 1; // VP indices 0 .. vcpu_count - 1 (= APIC IDs)
    CpuVendor vendor = CpuVendor::amd;
    // Reported as is; 0 means "not reported" (TLFS: a zero limit is not exposed).
    uint32_t host_logical_processors = 0; // CPUID 0x40000005 EBX
    uint8_t physical_address_bits = 0;    // CPUID 0x40000004 ECX[6:0] (host MAXPHYADDR)
};

} // namespace halcyon::vmm::hyperv
