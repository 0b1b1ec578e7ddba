// #VMEXIT codes (AMD APM vol. 2, appendix C). The core compares them as 32-bit values because
// QEMU's TCG has reported VMEXIT_INVALID as 0xFFFFFFFF instead of a 64-bit -1 (TUD-OS/NRE#65);
// every code the APM defines fits in 32 bits.
#pragma once

#include <stdint.h>

namespace halcyon::svm::exit_code {

inline constexpr uint32_t kExceptionBase = 0x40; // + vector, 0x40 .. 0x5F
inline constexpr uint32_t kIntr = 0x60;
inline constexpr uint32_t kNmi = 0x61;
inline constexpr uint32_t kSmi = 0x62;
inline constexpr uint32_t kInit = 0x63;
inline constexpr uint32_t kVintr = 0x64;
inline constexpr uint32_t kCpuid = 0x72;
inline constexpr uint32_t kInvd = 0x76;
inline constexpr uint32_t kPause = 0x77;
inline constexpr uint32_t kHlt = 0x78;
inline constexpr uint32_t kInvlpga = 0x7A;
inline constexpr uint32_t kIoio = 0x7B;
inline constexpr uint32_t kMsr = 0x7C;
inline constexpr uint32_t kTaskSwitch = 0x7D;
inline constexpr uint32_t kShutdown = 0x7F;
inline constexpr uint32_t kVmrun = 0x80;
inline constexpr uint32_t kVmmcall = 0x81;
inline constexpr uint32_t kVmload = 0x82;
inline constexpr uint32_t kVmsave = 0x83;
inline constexpr uint32_t kStgi = 0x84;
inline constexpr uint32_t kClgi = 0x85;
inline constexpr uint32_t kSkinit = 0x86;
inline constexpr uint32_t kRdtscp = 0x87;
inline constexpr uint32_t kIcebp = 0x88;
inline constexpr uint32_t kMonitor = 0x8A;
inline constexpr uint32_t kMwait = 0x8B;
inline constexpr uint32_t kMwaitConditional = 0x8C;
inline constexpr uint32_t kXsetbv = 0x8D;
inline constexpr uint32_t kNestedPageFault = 0x400;
inline constexpr uint32_t kInvalid = 0xFFFF'FFFF; // VMRUN refused the VMCB (-1)

} // namespace halcyon::svm::exit_code
