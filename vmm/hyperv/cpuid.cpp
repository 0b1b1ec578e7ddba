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
    // it the PIT/PM-timer calibration loops. The SynIC and synthetic timers are VMBus's base
    // (and direct-mode STIMER0 becomes Linux's clockevent).
    return privilege::kAccessPartitionReferenceCounter | privilege::kAccessSynicRegs |
           privilege::kAccessSyntheticTimerRegs | privilege::kAccessHypercallMsrs |
           privilege::kAccessVpIndex | privilege::kAccessPartitionReferenceTsc |
           privilege::kAccessFrequencyMsrs | privilege::kAccessTscInvariantControls;
}

uint32_t implemented_privileges_ebx() {
    return privilege_ebx::kPostMessages | privilege_ebx::kSignalEvents;
}

uint32_t implemented_features_edx() {
    return feature_edx::kFrequencyMsrsAvailable | feature_edx::kHypercallMsrLockAvailable |
           feature_edx::kDirectSyntheticTimers;
}

uint32_t implemented_recommendations() {
    // Relaxed timing only asks the guest not to run watchdogs on interrupt latency, which
    // nested under an emulator is unpredictable; it needs nothing from the hypervisor.
    // Deprecating AutoEOI makes Linux end its VMBus interrupts with an ordinary EOI (AutoEOI
    // is still implemented for guests that use it).
    return recommend::kRelaxedTiming | recommend::kDeprecateAutoEoi;
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
        // EBX: the hypercall privileges (post messages, signal events); ECX is reserved.
        return virt::CpuidRegisters{implemented_privileges(), implemented_privileges_ebx(), 0,
                                    implemented_features_edx()};
    case leaf::kRecommendations:
        return virt::CpuidRegisters{implemented_recommendations(), kNeverNotifyLongSpinWait,
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
