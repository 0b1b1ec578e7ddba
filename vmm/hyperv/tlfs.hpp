// Numbers of the Hyper-V synthetic interface as Microsoft's Hypervisor Top-Level Functional
// Specification (TLFS) defines them: CPUID leaves and bits, synthetic MSRs, hypercall input
// fields and status codes. Only what Halcyon implements or checks is named here; the rest of
// the TLFS stays out until something uses it (docs/hyperv.md lists what is offered).
#pragma once

#include <stdint.h>

namespace halcyon::vmm::hyperv {

// --- CPUID leaves (TLFS "Feature and Interface Discovery") ---
namespace leaf {
inline constexpr uint32_t kVendorAndMax = 0x4000'0000;
inline constexpr uint32_t kInterface = 0x4000'0001;
inline constexpr uint32_t kVersion = 0x4000'0002;
inline constexpr uint32_t kFeatures = 0x4000'0003;
inline constexpr uint32_t kRecommendations = 0x4000'0004;
inline constexpr uint32_t kLimits = 0x4000'0005;
inline constexpr uint32_t kHardwareFeatures = 0x4000'0006;
// The whole range a hypervisor may define; leaves above the maximum read as zero.
inline constexpr uint32_t kRangeFirst = 0x4000'0000;
inline constexpr uint32_t kRangeLast = 0x4000'FFFF;
} // namespace leaf

// "Hv#1" in EAX of leaf 0x40000001: the Microsoft hypervisor interface.
inline constexpr uint32_t kInterfaceSignature = 0x3123'7648;

// Partition privilege mask, low half (leaf 0x40000003 EAX).
namespace privilege {
inline constexpr uint32_t kAccessVpRuntime = 1u << 0;
inline constexpr uint32_t kAccessPartitionReferenceCounter = 1u << 1;
inline constexpr uint32_t kAccessSynicRegs = 1u << 2;
inline constexpr uint32_t kAccessSyntheticTimerRegs = 1u << 3;
inline constexpr uint32_t kAccessApicMsrs = 1u << 4; // EOI/ICR/TPR and the VP assist page
inline constexpr uint32_t kAccessHypercallMsrs = 1u << 5;
inline constexpr uint32_t kAccessVpIndex = 1u << 6;
inline constexpr uint32_t kAccessResetMsr = 1u << 7;
inline constexpr uint32_t kAccessPartitionReferenceTsc = 1u << 9;
inline constexpr uint32_t kAccessGuestIdleMsr = 1u << 10;
inline constexpr uint32_t kAccessFrequencyMsrs = 1u << 11;
inline constexpr uint32_t kAccessTscInvariantControls = 1u << 15;
} // namespace privilege

// Partition privilege mask, high half (leaf 0x40000003 EBX): which hypercalls may be used.
namespace privilege_ebx {
inline constexpr uint32_t kPostMessages = 1u << 4;
inline constexpr uint32_t kSignalEvents = 1u << 5;
} // namespace privilege_ebx

// Leaf 0x40000003 EDX.
namespace feature_edx {
inline constexpr uint32_t kXmmHypercallInput = 1u << 4;
inline constexpr uint32_t kFrequencyMsrsAvailable = 1u << 8;
inline constexpr uint32_t kGuestCrashMsrs = 1u << 10;
inline constexpr uint32_t kHypercallMsrLockAvailable = 1u << 18;
inline constexpr uint32_t kDirectSyntheticTimers = 1u << 19;
} // namespace feature_edx

// Implementation recommendations (leaf 0x40000004 EAX).
namespace recommend {
inline constexpr uint32_t kRemoteTlbFlushHypercall = 1u << 2;
inline constexpr uint32_t kApicMsrs = 1u << 3;
inline constexpr uint32_t kRelaxedTiming = 1u << 5;
inline constexpr uint32_t kDeprecateAutoEoi = 1u << 9;
inline constexpr uint32_t kClusterIpiHypercall = 1u << 10;
inline constexpr uint32_t kEnlightenedVmcs = 1u << 14;
} // namespace recommend
// Leaf 0x40000004 EBX: spinlock retries before notifying the hypervisor; all ones = never.
inline constexpr uint32_t kNeverNotifyLongSpinWait = 0xFFFF'FFFF;

// Leaf 0x40000006 EAX: hardware features the hypervisor detected and uses.
namespace hardware {
inline constexpr uint32_t kMsrBitmaps = 1u << 1;
inline constexpr uint32_t kSecondLevelTranslation = 1u << 3;
} // namespace hardware

// --- synthetic MSRs ---
namespace msr {
inline constexpr uint32_t kGuestOsId = 0x4000'0000;
inline constexpr uint32_t kHypercall = 0x4000'0001;
inline constexpr uint32_t kVpIndex = 0x4000'0002;
inline constexpr uint32_t kTimeRefCount = 0x4000'0020;
inline constexpr uint32_t kReferenceTsc = 0x4000'0021;
inline constexpr uint32_t kTscFrequency = 0x4000'0022;
inline constexpr uint32_t kApicFrequency = 0x4000'0023;
inline constexpr uint32_t kVpAssistPage = 0x4000'0073;
inline constexpr uint32_t kTscInvariantControl = 0x4000'0118;
// SynIC (TLFS "Inter-Partition Communication", "SynIC MSRs"): per virtual processor.
inline constexpr uint32_t kScontrol = 0x4000'0080;
inline constexpr uint32_t kSversion = 0x4000'0081;
inline constexpr uint32_t kSiefp = 0x4000'0082;
inline constexpr uint32_t kSimp = 0x4000'0083;
inline constexpr uint32_t kEom = 0x4000'0084;
inline constexpr uint32_t kSint0 = 0x4000'0090;
inline constexpr uint32_t kSint15 = 0x4000'009F;
// Synthetic timers (TLFS "Timers"): CONFIG and COUNT pairs, 0xB0/0xB1 for timer 0 ... 0xB6/0xB7.
inline constexpr uint32_t kStimer0Config = 0x4000'00B0;
inline constexpr uint32_t kStimer0Count = 0x4000'00B1;
inline constexpr uint32_t kStimer3Count = 0x4000'00B7;
} // namespace msr

// The layout shared by the hypercall, reference TSC and VP assist page MSRs: bit 0 enables the
// overlay page, bits 63:12 are its guest-physical page.
inline constexpr uint64_t kOverlayEnable = 1u << 0;
inline constexpr uint64_t kHypercallLocked = 1u << 1;
inline constexpr uint64_t kOverlayPageMask = ~uint64_t{0xFFF};
inline constexpr uint64_t kTscInvariantExpose = 1u << 0;

// --- hypercalls (TLFS "Hypercall Interface") ---
namespace control {
inline constexpr uint64_t kCodeMask = 0xFFFF;
inline constexpr uint64_t kFast = uint64_t{1} << 16;
inline constexpr unsigned kVariableHeaderShift = 17;
inline constexpr uint64_t kVariableHeaderMask = uint64_t{0x3FF} << kVariableHeaderShift;
inline constexpr unsigned kRepCountShift = 32;
inline constexpr unsigned kRepStartShift = 48;
inline constexpr uint64_t kRepFieldMask = 0xFFF;
// RsvdZ: bits 31:27, 47:44 and 63:60.
inline constexpr uint64_t kReserved =
    (uint64_t{0x1F} << 27) | (uint64_t{0xF} << 44) | (uint64_t{0xF} << 60);
} // namespace control

// The hypercall result value: status in bits 15:0, reps completed in bits 43:32.
inline constexpr unsigned kResultRepsShift = 32;

// The call codes Halcyon implements.
namespace call {
inline constexpr uint16_t kPostMessage = 0x005C;
inline constexpr uint16_t kSignalEvent = 0x005D;
} // namespace call

// HV_STATUS values (the TLFS's list; the numbers agree with Linux's hyperv-tlfs.h and
// hvgdk_mini.h). The one definition: the root partition's interface (vmm/root) uses it too.
enum class HvStatus : uint16_t {
    success = 0x0000,
    invalid_hypercall_code = 0x0002,
    invalid_hypercall_input = 0x0003,
    invalid_alignment = 0x0004,
    invalid_parameter = 0x0005,
    access_denied = 0x0006,
    invalid_partition_state = 0x0007,
    insufficient_memory = 0x000B,
    invalid_partition_id = 0x000D,
    invalid_vp_index = 0x000E,
    invalid_port_id = 0x0011,
    invalid_connection_id = 0x0012,
    insufficient_buffers = 0x0013,
    invalid_vp_state = 0x0015,
    invalid_synic_state = 0x0018,
    no_resources = 0x001D,
    invalid_register_value = 0x0050,
};

inline constexpr uint64_t kPageSize = 4096;

// CPUID 0x80000007 EDX bit 8: invariant TSC (what HV_X64_MSR_TSC_INVARIANT_CONTROL exposes).
inline constexpr uint32_t kLeafAdvancedPowerManagement = 0x8000'0007;
inline constexpr uint32_t kInvariantTscBit = 1u << 8;

} // namespace halcyon::vmm::hyperv
