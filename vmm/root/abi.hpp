// The numbers of the root partition's privileged hypercall interface
// (docs/management-partition.md): call codes, status codes, flags, register names and message
// types, as the Hyper-V TLFS and Microsoft's hypervisor headers published with Linux's mshv
// driver (include/hyperv/hvgdk_mini.h, hvhdk.h, hvhdk_mini.h) define them. Only what Halcyon
// implements or checks is named here. Layouts of the parameter blocks are in codec.hpp.
#pragma once

#include "vmm/hyperv/tlfs.hpp"
#include <stdint.h>

namespace halcyon::vmm::root {

// --- call codes (HV_CALL_CODE) ---
namespace call {
inline constexpr uint16_t kCreatePartition = 0x0040;
inline constexpr uint16_t kInitializePartition = 0x0041;
inline constexpr uint16_t kFinalizePartition = 0x0042; // privileged, not implemented
inline constexpr uint16_t kDeletePartition = 0x0043;
inline constexpr uint16_t kGetPartitionProperty = 0x0044; // privileged, not implemented
inline constexpr uint16_t kSetPartitionProperty = 0x0045; // privileged, not implemented
inline constexpr uint16_t kGetPartitionId = 0x0046;
inline constexpr uint16_t kDepositMemory = 0x0048;
inline constexpr uint16_t kWithdrawMemory = 0x0049;
inline constexpr uint16_t kMapGpaPages = 0x004B;
inline constexpr uint16_t kUnmapGpaPages = 0x004C;
inline constexpr uint16_t kInstallIntercept = 0x004D;
inline constexpr uint16_t kCreateVp = 0x004E;
inline constexpr uint16_t kDeleteVp = 0x004F; // privileged, not implemented
inline constexpr uint16_t kGetVpRegisters = 0x0050;
inline constexpr uint16_t kSetVpRegisters = 0x0051;
inline constexpr uint16_t kAssertVirtualInterrupt = 0x0094;
inline constexpr uint16_t kSignalEventDirect = 0x00C0;
inline constexpr uint16_t kPostMessageDirect = 0x00C1; // privileged, not implemented
inline constexpr uint16_t kDispatchVp = 0x00C2;
inline constexpr uint16_t kMapVpStatePage = 0x00E1;   // privileged, not implemented
inline constexpr uint16_t kUnmapVpStatePage = 0x00E2; // privileged, not implemented
inline constexpr uint16_t kGetVpState = 0x00E3;       // privileged, not implemented
inline constexpr uint16_t kSetVpState = 0x00E4;       // privileged, not implemented
// Halcyon's vendor call (docs/management-partition.md): the management partition's management
// API requests to the core's VM manager. Privileged, and only the management partition's.
inline constexpr uint16_t kHalcyonManagement = 0x7F00;
} // namespace call

// --- HV_STATUS values: the TLFS's, defined once in vmm/hyperv ---
using Status = hyperv::HvStatus;
[[nodiscard]] const char* status_name(Status status);

// A call's outcome: the status and, for a rep call, how many elements were done (the TLFS's
// "reps completed": on failure, the index of the element that failed).
struct CallResult {
    Status status = Status::success;
    uint16_t reps_completed = 0;
};

// --- partition identifiers ---
inline constexpr uint64_t kPartitionIdInvalid = 0;
inline constexpr uint64_t kPartitionIdSelf = ~uint64_t{0};

// --- HvCreatePartition flags (hvhdk.h HV_PARTITION_CREATION_FLAG_*) ---
namespace creation {
inline constexpr uint64_t kLapicEnabled = uint64_t{1} << 13;
inline constexpr uint64_t kInterceptMessagePageEnabled = uint64_t{1} << 19;
inline constexpr uint64_t kX2ApicCapable = uint64_t{1} << 22;
// Every child has a virtual local APIC with x2APIC mode (vmm/lapic): those two flags describe
// it and are accepted; anything else asks for something Halcyon does not have.
inline constexpr uint64_t kAccepted = kLapicEnabled | kX2ApicCapable;
} // namespace creation

// --- HvMapGpaPages / HvUnmapGpaPages flags (hvhdk_mini.h HV_MAP_GPA_*, hvgdk_mini.h) ---
namespace map_flags {
inline constexpr uint32_t kReadable = 0x1;
inline constexpr uint32_t kWritable = 0x2;
inline constexpr uint32_t kExecutable = 0xC; // kernel | user executable
inline constexpr uint32_t kPermissionsMask = 0xF;
inline constexpr uint32_t kLargePage = 0x8000'0000;
inline constexpr uint32_t kUnmapLargePage = 0x2; // HV_UNMAP_GPA_LARGE_PAGE
} // namespace map_flags

// Halcyon moves memory between partitions in 2 MiB large pages: its partitions map RAM with
// 2 MiB nested pages (docs/management-partition.md, "Memory").
inline constexpr uint64_t kLargePageBytes = 2ull << 20;
inline constexpr uint64_t kPageBytes = 4096;
inline constexpr uint64_t kPagesPerLargePage = kLargePageBytes / kPageBytes;

// --- HvInstallIntercept (hvgdk_mini.h enum hv_intercept_type, HV_INTERCEPT_ACCESS_MASK_*) ---
namespace intercept {
inline constexpr uint32_t kTypeIoPort = 0x0;
inline constexpr uint32_t kTypeCpuid = 0x2;
inline constexpr uint32_t kTypeGlobalCpuid = 0x6;
inline constexpr uint32_t kAccessRead = 0x1;
inline constexpr uint32_t kAccessWrite = 0x2;
inline constexpr uint32_t kAccessExecute = 0x4;
} // namespace intercept

// --- HvAssertVirtualInterrupt (hvgdk_mini.h enum hv_interrupt_type) ---
namespace interrupt_type {
inline constexpr uint32_t kFixed = 0x0;
inline constexpr uint32_t kLowestPriority = 0x1;
inline constexpr uint32_t kNmi = 0x4;
inline constexpr uint32_t kInit = 0x5;
inline constexpr uint32_t kSipi = 0x6;
} // namespace interrupt_type

// --- HvDispatchVp (hvhdk.h) ---
namespace dispatch {
inline constexpr uint32_t kStateInvalid = 0;
inline constexpr uint32_t kStateBlocked = 1;
inline constexpr uint32_t kStateReady = 2;
inline constexpr uint32_t kEventInvalid = 0;
inline constexpr uint32_t kEventSuspend = 1;
inline constexpr uint32_t kEventIntercept = 2;
inline constexpr uint32_t kEventPreempted = 4;
inline constexpr uint32_t kEventTimeSliceEnd = 8;
// Input flags Halcyon accepts: the speculation-control ones are hints about flushes it does
// not do anyway (HV_DISPATCH_VP_FLAG_SKIP_*).
inline constexpr uint32_t kFlagClearInterceptSuspend = 0x1;
inline constexpr uint32_t kFlagSkipVpSpecFlush = 0x8;
inline constexpr uint32_t kFlagSkipCallerSpecFlush = 0x10;
inline constexpr uint32_t kFlagSkipCallerUserSpecFlush = 0x20;
inline constexpr uint32_t kAcceptedFlags = kFlagClearInterceptSuspend | kFlagSkipVpSpecFlush |
                                           kFlagSkipCallerSpecFlush | kFlagSkipCallerUserSpecFlush;
} // namespace dispatch

// --- intercept messages (hvgdk_mini.h enum hv_message_type), on SINT 0 of the root ---
inline constexpr uint8_t kInterceptSint = 0; // HV_SYNIC_INTERCEPTION_SINT_INDEX
namespace message {
inline constexpr uint32_t kUnrecoverableException = 0x8000'0021;
inline constexpr uint32_t kIoPortIntercept = 0x8001'0000;
inline constexpr uint32_t kCpuidIntercept = 0x8001'0002;
inline constexpr uint32_t kHalt = 0x8001'0007;
} // namespace message
namespace access {
inline constexpr uint8_t kRead = 0;
inline constexpr uint8_t kWrite = 1;
inline constexpr uint8_t kExecute = 2;
} // namespace access

// --- register names for HvGetVpRegisters / HvSetVpRegisters (hvgdk_mini.h hv_register_name) ---
namespace reg {
inline constexpr uint32_t kExplicitSuspend = 0x0000'0000;
inline constexpr uint32_t kRax = 0x0002'0000; // RAX..R15 are 0x00020000..0x0002000F
inline constexpr uint32_t kR15 = 0x0002'000F;
inline constexpr uint32_t kRip = 0x0002'0010;
inline constexpr uint32_t kRflags = 0x0002'0011;
inline constexpr uint32_t kCr0 = 0x0004'0000;
inline constexpr uint32_t kCr2 = 0x0004'0001;
inline constexpr uint32_t kCr3 = 0x0004'0002;
inline constexpr uint32_t kCr4 = 0x0004'0003;
inline constexpr uint32_t kEs = 0x0006'0000; // ES, CS, SS, DS, FS, GS, LDTR, TR
inline constexpr uint32_t kTr = 0x0006'0007;
inline constexpr uint32_t kIdtr = 0x0007'0000;
inline constexpr uint32_t kGdtr = 0x0007'0001;
inline constexpr uint32_t kEfer = 0x0008'0001;
inline constexpr uint32_t kPat = 0x0008'0004;
} // namespace reg

// --- CPUID 0x40000003 EBX: the partition privilege mask, high half (hvgdk_mini.h) ---
namespace privilege_ebx {
inline constexpr uint32_t kCreatePartitions = 1u << 0;
inline constexpr uint32_t kAccessPartitionId = 1u << 1;
inline constexpr uint32_t kAccessMemoryPool = 1u << 2;
// What the root partition is granted in addition to every partition's privileges.
inline constexpr uint32_t kRoot = kCreatePartitions | kAccessPartitionId | kAccessMemoryPool;
} // namespace privilege_ebx

} // namespace halcyon::vmm::root
