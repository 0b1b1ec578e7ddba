// Basic VM-exit reasons (Intel SDM vol. 3, appendix C) and the bits around them in the exit
// reason field: bits 15:0 are the basic reason, bit 31 says VM entry failed (the "exit" happened
// while loading the guest), bit 29 that the exit came from VMX root (SMM) operation.
#pragma once

#include <stdint.h>

namespace halcyon::vmx::exit_reason {

inline constexpr uint32_t kBasicMask = 0xFFFF;
inline constexpr uint32_t kEntryFailure = 1u << 31;

inline constexpr uint32_t kExceptionOrNmi = 0;
inline constexpr uint32_t kExternalInterrupt = 1;
inline constexpr uint32_t kTripleFault = 2;
inline constexpr uint32_t kInitSignal = 3;
inline constexpr uint32_t kStartupIpi = 4;
inline constexpr uint32_t kIoSmi = 5;
inline constexpr uint32_t kOtherSmi = 6;
inline constexpr uint32_t kInterruptWindow = 7;
inline constexpr uint32_t kNmiWindow = 8;
inline constexpr uint32_t kTaskSwitch = 9;
inline constexpr uint32_t kCpuid = 10;
inline constexpr uint32_t kGetsec = 11;
inline constexpr uint32_t kHlt = 12;
inline constexpr uint32_t kInvd = 13;
inline constexpr uint32_t kInvlpg = 14;
inline constexpr uint32_t kRdpmc = 15;
inline constexpr uint32_t kRdtsc = 16;
inline constexpr uint32_t kRsm = 17;
inline constexpr uint32_t kVmcall = 18;
inline constexpr uint32_t kVmclear = 19;
inline constexpr uint32_t kVmlaunch = 20;
inline constexpr uint32_t kVmptrld = 21;
inline constexpr uint32_t kVmptrst = 22;
inline constexpr uint32_t kVmread = 23;
inline constexpr uint32_t kVmresume = 24;
inline constexpr uint32_t kVmwrite = 25;
inline constexpr uint32_t kVmxoff = 26;
inline constexpr uint32_t kVmxon = 27;
inline constexpr uint32_t kControlRegisterAccess = 28;
inline constexpr uint32_t kMovDr = 29;
inline constexpr uint32_t kIoInstruction = 30;
inline constexpr uint32_t kRdmsr = 31;
inline constexpr uint32_t kWrmsr = 32;
inline constexpr uint32_t kInvalidGuestState = 33;
inline constexpr uint32_t kMsrLoading = 34;
inline constexpr uint32_t kMwait = 36;
inline constexpr uint32_t kMonitorTrapFlag = 37;
inline constexpr uint32_t kMonitor = 39;
inline constexpr uint32_t kPause = 40;
inline constexpr uint32_t kMachineCheckDuringEntry = 41;
inline constexpr uint32_t kTprBelowThreshold = 43;
inline constexpr uint32_t kApicAccess = 44;
inline constexpr uint32_t kVirtualizedEoi = 45;
inline constexpr uint32_t kGdtrIdtrAccess = 46;
inline constexpr uint32_t kLdtrTrAccess = 47;
inline constexpr uint32_t kEptViolation = 48;
inline constexpr uint32_t kEptMisconfiguration = 49;
inline constexpr uint32_t kInvept = 50;
inline constexpr uint32_t kRdtscp = 51;
inline constexpr uint32_t kPreemptionTimer = 52;
inline constexpr uint32_t kInvvpid = 53;
inline constexpr uint32_t kWbinvd = 54;
inline constexpr uint32_t kXsetbv = 55;
inline constexpr uint32_t kApicWrite = 56;
inline constexpr uint32_t kRdrand = 57;
inline constexpr uint32_t kInvpcid = 58;
inline constexpr uint32_t kVmfunc = 59;
inline constexpr uint32_t kEncls = 60;
inline constexpr uint32_t kRdseed = 61;
inline constexpr uint32_t kPmlFull = 62;
inline constexpr uint32_t kXsaves = 63;
inline constexpr uint32_t kXrstors = 64;
inline constexpr uint32_t kUmwait = 67;
inline constexpr uint32_t kTpause = 68;

// A short name for logs ("cpuid", "ept-violation", ...); "unknown" past the table.
[[nodiscard]] const char* name(uint32_t basic_reason);

} // namespace halcyon::vmx::exit_reason
