// The VM-execution, VM-exit and VM-entry control bits the backend reasons about (Intel SDM vol.
// 3, 25.6-25.8 "VM-Execution/VM-Exit/VM-Entry Control Fields"), the capability MSRs that say
// which settings a CPU allows (appendix A), and the CR0/CR4/EFER/RFLAGS bits the VMX rules
// mention. Names only: the policy (which controls are required) is in capabilities.cpp.
#pragma once

#include <stdint.h>

namespace halcyon::vmx {

// Capability MSRs (SDM vol. 3, appendix A).
namespace msr {
inline constexpr uint32_t kFeatureControl = 0x3A;
inline constexpr uint32_t kBasic = 0x480;
inline constexpr uint32_t kPinBasedControls = 0x481;
inline constexpr uint32_t kProcessorControls = 0x482;
inline constexpr uint32_t kExitControls = 0x483;
inline constexpr uint32_t kEntryControls = 0x484;
inline constexpr uint32_t kMisc = 0x485;
inline constexpr uint32_t kCr0Fixed0 = 0x486;
inline constexpr uint32_t kCr0Fixed1 = 0x487;
inline constexpr uint32_t kCr4Fixed0 = 0x488;
inline constexpr uint32_t kCr4Fixed1 = 0x489;
inline constexpr uint32_t kProcessorControls2 = 0x48B;
inline constexpr uint32_t kEptVpidCapability = 0x48C;
inline constexpr uint32_t kTruePinBasedControls = 0x48D;
inline constexpr uint32_t kTrueProcessorControls = 0x48E;
inline constexpr uint32_t kTrueExitControls = 0x48F;
inline constexpr uint32_t kTrueEntryControls = 0x490;
} // namespace msr

// IA32_VMX_BASIC.
namespace basic {
inline constexpr uint64_t kRevisionMask = 0x7FFF'FFFF;
inline constexpr unsigned kRegionSizeShift = 32; // bits 44:32: VMXON/VMCS region size
inline constexpr uint64_t kRegionSizeMask = 0x1FFF;
inline constexpr uint64_t kAddressesBelow4G = 1ull << 48; // regions must lie below 4 GiB
inline constexpr unsigned kMemoryTypeShift = 50;          // bits 53:50: 6 = write-back
inline constexpr uint64_t kTrueControls = 1ull << 55;     // the TRUE_* MSRs exist
} // namespace basic

// IA32_VMX_MISC.
namespace misc {
// VM exits store EFER.LMA into the "IA-32e mode guest" entry control (required by CPUs with
// unrestricted guest): a guest may then enter and leave long mode without the VMM's help.
inline constexpr uint64_t kExitStoresLma = 1ull << 5;
} // namespace misc

// IA32_VMX_EPT_VPID_CAP.
namespace ept_vpid {
inline constexpr uint64_t kExecuteOnly = 1ull << 0;
inline constexpr uint64_t kPageWalk4 = 1ull << 6;
inline constexpr uint64_t kMemoryTypeUncached = 1ull << 8;
inline constexpr uint64_t kMemoryTypeWriteBack = 1ull << 14;
inline constexpr uint64_t kLargePage2M = 1ull << 16;
inline constexpr uint64_t kLargePage1G = 1ull << 17;
inline constexpr uint64_t kInvept = 1ull << 20;
inline constexpr uint64_t kAccessedDirty = 1ull << 21;
inline constexpr uint64_t kInveptSingleContext = 1ull << 25;
inline constexpr uint64_t kInveptAllContext = 1ull << 26;
inline constexpr uint64_t kInvvpid = 1ull << 32;
inline constexpr uint64_t kInvvpidIndividualAddress = 1ull << 40;
inline constexpr uint64_t kInvvpidSingleContext = 1ull << 41;
inline constexpr uint64_t kInvvpidAllContext = 1ull << 42;
} // namespace ept_vpid

// IA32_FEATURE_CONTROL.
namespace feature_control {
inline constexpr uint64_t kLock = 1ull << 0;
inline constexpr uint64_t kVmxInsideSmx = 1ull << 1;
inline constexpr uint64_t kVmxOutsideSmx = 1ull << 2;
} // namespace feature_control

// Pin-based VM-execution controls.
namespace pin {
inline constexpr uint32_t kExternalInterruptExiting = 1u << 0;
inline constexpr uint32_t kNmiExiting = 1u << 3;
inline constexpr uint32_t kVirtualNmis = 1u << 5;
inline constexpr uint32_t kPreemptionTimer = 1u << 6;
inline constexpr uint32_t kPostedInterrupts = 1u << 7;
} // namespace pin

// Primary processor-based VM-execution controls.
namespace primary {
inline constexpr uint32_t kInterruptWindowExiting = 1u << 2;
inline constexpr uint32_t kUseTscOffsetting = 1u << 3;
inline constexpr uint32_t kHltExiting = 1u << 7;
inline constexpr uint32_t kInvlpgExiting = 1u << 9;
inline constexpr uint32_t kMwaitExiting = 1u << 10;
inline constexpr uint32_t kRdpmcExiting = 1u << 11;
inline constexpr uint32_t kRdtscExiting = 1u << 12;
inline constexpr uint32_t kCr3LoadExiting = 1u << 15;
inline constexpr uint32_t kCr3StoreExiting = 1u << 16;
inline constexpr uint32_t kCr8LoadExiting = 1u << 19;
inline constexpr uint32_t kCr8StoreExiting = 1u << 20;
inline constexpr uint32_t kUseTprShadow = 1u << 21;
inline constexpr uint32_t kNmiWindowExiting = 1u << 22;
inline constexpr uint32_t kMovDrExiting = 1u << 23;
inline constexpr uint32_t kUnconditionalIoExiting = 1u << 24;
inline constexpr uint32_t kUseIoBitmaps = 1u << 25;
inline constexpr uint32_t kMonitorTrapFlag = 1u << 27;
inline constexpr uint32_t kUseMsrBitmaps = 1u << 28;
inline constexpr uint32_t kMonitorExiting = 1u << 29;
inline constexpr uint32_t kPauseExiting = 1u << 30;
inline constexpr uint32_t kActivateSecondaryControls = 1u << 31;
} // namespace primary

// Secondary processor-based VM-execution controls.
namespace secondary {
inline constexpr uint32_t kVirtualizeApicAccesses = 1u << 0;
inline constexpr uint32_t kEnableEpt = 1u << 1;
inline constexpr uint32_t kDescriptorTableExiting = 1u << 2;
inline constexpr uint32_t kEnableRdtscp = 1u << 3;
inline constexpr uint32_t kEnableVpid = 1u << 5;
inline constexpr uint32_t kWbinvdExiting = 1u << 6;
inline constexpr uint32_t kUnrestrictedGuest = 1u << 7;
inline constexpr uint32_t kPauseLoopExiting = 1u << 10;
inline constexpr uint32_t kEnableInvpcid = 1u << 12;
inline constexpr uint32_t kEnableVmFunctions = 1u << 13;
inline constexpr uint32_t kVmcsShadowing = 1u << 14;
inline constexpr uint32_t kEnablePml = 1u << 17;
inline constexpr uint32_t kEptViolationVe = 1u << 18;
inline constexpr uint32_t kEnableXsaves = 1u << 20;
} // namespace secondary

// VM-exit controls.
namespace exit_control {
inline constexpr uint32_t kSaveDebugControls = 1u << 2;
inline constexpr uint32_t kHostAddressSpaceSize = 1u << 9;
inline constexpr uint32_t kLoadPerfGlobalControl = 1u << 12;
inline constexpr uint32_t kAcknowledgeInterruptOnExit = 1u << 15;
inline constexpr uint32_t kSavePat = 1u << 18;
inline constexpr uint32_t kLoadPat = 1u << 19;
inline constexpr uint32_t kSaveEfer = 1u << 20;
inline constexpr uint32_t kLoadEfer = 1u << 21;
inline constexpr uint32_t kSavePreemptionTimer = 1u << 22;
} // namespace exit_control

// VM-entry controls.
namespace entry_control {
inline constexpr uint32_t kLoadDebugControls = 1u << 2;
inline constexpr uint32_t kIa32eModeGuest = 1u << 9;
inline constexpr uint32_t kEntryToSmm = 1u << 10;
inline constexpr uint32_t kDeactivateDualMonitor = 1u << 11;
inline constexpr uint32_t kLoadPerfGlobalControl = 1u << 13;
inline constexpr uint32_t kLoadPat = 1u << 14;
inline constexpr uint32_t kLoadEfer = 1u << 15;
} // namespace entry_control

// Architectural register bits the VMX checks and the CR emulation use.
namespace cr0 {
inline constexpr uint64_t kPe = 1ull << 0;
inline constexpr uint64_t kMp = 1ull << 1;
inline constexpr uint64_t kEt = 1ull << 4;
inline constexpr uint64_t kNe = 1ull << 5;
inline constexpr uint64_t kWp = 1ull << 16;
inline constexpr uint64_t kNw = 1ull << 29;
inline constexpr uint64_t kCd = 1ull << 30;
inline constexpr uint64_t kPg = 1ull << 31;
} // namespace cr0
namespace cr4 {
inline constexpr uint64_t kPae = 1ull << 5;
inline constexpr uint64_t kVmxe = 1ull << 13;
inline constexpr uint64_t kPcide = 1ull << 17;
inline constexpr uint64_t kCet = 1ull << 23;
} // namespace cr4
namespace efer {
inline constexpr uint64_t kSce = 1ull << 0;
inline constexpr uint64_t kLme = 1ull << 8;
inline constexpr uint64_t kLma = 1ull << 10;
inline constexpr uint64_t kNxe = 1ull << 11;
// The bits an Intel CPU implements (SCE, LME, LMA, NXE); VM entry requires the others to be zero
// (AMD's SVME, LMSLE, FFXSR and TCE are reserved on Intel).
inline constexpr uint64_t kDefined = 0xD01;
} // namespace efer
namespace rflags {
inline constexpr uint64_t kFixedOne = 1ull << 1;
inline constexpr uint64_t kTf = 1ull << 8;
inline constexpr uint64_t kIf = 1ull << 9;
inline constexpr uint64_t kVm = 1ull << 17;
// Bits 63:22, 15, 5 and 3 are reserved (zero).
inline constexpr uint64_t kReserved = ~0x3F'FFFFull | (1ull << 15) | (1ull << 5) | (1ull << 3);
} // namespace rflags

} // namespace halcyon::vmx
