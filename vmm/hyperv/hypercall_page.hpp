// The code Halcyon puts at the start of the hypercall page (the rest of the page is zero).
// The guest CALLs the page's first byte with the TLFS registers loaded (RCX control, RDX input,
// R8 output; EDX:EAX, EBX:ECX, EDI:ESI for 32-bit callers) and gets the result in RAX
// (EDX:EAX), so the page only has to trap to the hypervisor and return:
//     F3 0F 1E FA    ENDBR64  (a NOP without CET; lets a guest running with indirect-branch
//                              tracking call the page - Linux disables IBT when it is missing)
//     0F 01 D9       VMMCALL  (AMD SVM)   or   0F 01 C1   VMCALL  (Intel VT-x)
//     C3             RET
// The same bytes serve 32-bit callers (ENDBR64 is a NOP there too).
#pragma once

#include "vmm/hyperv/partition_info.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::hyperv {

// Offset of the trapping instruction in the page and its length (for the exit handler, which
// advances RIP past it).
inline constexpr uint64_t kHypercallInstructionOffset = 4;
inline constexpr uint64_t kHypercallInstructionLength = 3;

[[nodiscard]] std::span<const uint8_t> hypercall_page_code(CpuVendor vendor);

} // namespace halcyon::vmm::hyperv
