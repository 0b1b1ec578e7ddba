#include "vmm/hyperv/cpuid.hpp"

#include "vmm/hyperv/tlfs.hpp"

#include <string.h>

namespace halcyon::vmm::hyperv {
namespace {

uint32_t vendor_word(size_t index) {
    uint32_t word;
    memcpy(&word, kVendor + index * 4, 4);
    return word;
}

} // namespace

uint32_t implemented_privileges() {
    // Linux 6.1 requires the hypercall MSRs and the VP index (ms_hyperv_platform), and with the
    // reference counter alone would read an MSR for every clock read (hyperv_clocksource_msr,
    // rating 500) - a VM exit each time. The reference TSC page plus the invariant-TSC control
    // let it use the TSC itself for both clocksource and sched_clock; the frequency MSRs spare
    // it the PIT/PM-timer calibration loops.
    return privilege::kAccessPartitionReferenceCounter | privilege::kAccessHypercallMsrs |
           privilege::kAccessVpIndex | privilege::kAccessPartitionReferenceTsc |
           privilege::kAccessFrequencyMsrs | privilege::kAccessTscInvariantControls;
}

uint32_t implemented_features_edx() {
    return feature_edx::kFrequencyMsrsAvailable | feature_edx::kHypercallMsrLockAvailable;
}

std::optional<virt::CpuidRegisters> hyperv_cpuid(uint32_t leaf, const HypervPartitionInfo& info) {
    if (leaf < leaf::kRangeFirst || leaf > leaf::kRangeLast)
        return std::nullopt;
    switch (leaf) {
    case leaf::kVendorAndMax:
        return virt::CpuidRegisters{kMaxLeaf, vendor_word(0), vendor_word(1), vendor_word(2)};
    case leaf::kInterface:
        return virt::CpuidRegisters{kInterfaceSignature, 0, 0, 0};
    case leaf::kVersion:
        // EAX build, EBX major.minor, ECX service pack, EDX service branch/number.
        return virt::CpuidRegisters{kVersionBuild, (uint32_t{kVersionMajor} << 16) | kVersionMinor,
                                    0, 0};
    case leaf::kFeatures:
        // EBX (privilege mask high half: post messages, signal events, ...) stays empty until
        // VMBus; ECX is reserved.
        return virt::CpuidRegisters{implemented_privileges(), 0, 0, implemented_features_edx()};
    case leaf::kRecommendations:
        // Relaxed timing only asks the guest not to run watchdogs on interrupt latency, which
        // nested under an emulator is unpredictable; it needs nothing from the hypervisor.
        return virt::CpuidRegisters{recommend::kRelaxedTiming, kNeverNotifyLongSpinWait,
                                    info.physical_address_bits & 0x7Fu, 0};
    case leaf::kLimits:
        return virt::CpuidRegisters{kMaxVirtualProcessors, info.host_logical_processors, 0, 0};
    case leaf::kHardwareFeatures:
        // Every partition runs on nested paging with MSR permission maps (vmm/svm).
        return virt::CpuidRegisters{hardware::kMsrBitmaps | hardware::kSecondLevelTranslation, 0, 0,
                                    0};
    default:
        return virt::CpuidRegisters{0, 0, 0, 0};
    }
}

} // namespace halcyon::vmm::hyperv
