// Segment registers between the backend interface's format (vmm::Segment: SVM's packed 12-bit
// attributes, descriptor bits 8..15 and 20..23) and the VMCS's (SDM vol. 3, 25.4.1: 32-bit access
// rights with the descriptor's bits 8..15 in bits 7:0, bits 20..23 in bits 15:12, and bit 16
// "segment unusable", VT-x's way of saying a null selector was loaded).
//
// Going in, a segment that is not present becomes unusable (what loading a null selector leaves
// on SVM, whose attributes then read P = 0), and two things VM entry checks but SVM ignores are
// made consistent, as the CPU itself would have them after loading the descriptor:
//   - usable code and data segments get their "accessed" type bit (the CPU sets it on a load);
//   - G follows from the limit when the limit decides it: a byte-granular limit above 1 MiB is
//     only expressible with G = 1, a limit whose low 12 bits are not all ones only with G = 0.
// Going out, an unusable segment reads as not present.
#pragma once

#include "vmm/cpu_backend.hpp"
#include "vmm/vmx/vmcs_fields.hpp"

#include <stdint.h>

namespace halcyon::vmx {

namespace access_rights {
inline constexpr uint32_t kTypeMask = 0xF;
inline constexpr uint32_t kAccessed = 1u << 0;
inline constexpr uint32_t kCode = 1u << 3;
inline constexpr uint32_t kCodeOrData = 1u << 4; // S
inline constexpr uint32_t kDplShift = 5;
inline constexpr uint32_t kPresent = 1u << 7;
inline constexpr uint32_t kLong = 1u << 13;
inline constexpr uint32_t kDefaultBig = 1u << 14;
inline constexpr uint32_t kGranularity = 1u << 15;
inline constexpr uint32_t kUnusable = 1u << 16;
// Bits 11:8 and 31:17 are reserved.
inline constexpr uint32_t kReserved = 0xFFFE'0F00;
} // namespace access_rights

// A segment register as the VMCS holds it.
struct VmxSegment {
    uint16_t selector = 0;
    uint32_t limit = 0;
    uint32_t access_rights = access_rights::kUnusable;
    uint64_t base = 0;
};

[[nodiscard]] uint32_t access_rights_from_attributes(uint16_t attributes, uint32_t limit);
[[nodiscard]] uint16_t attributes_from_access_rights(uint32_t access_rights);

[[nodiscard]] VmxSegment to_vmx_segment(const vmm::Segment& segment);
[[nodiscard]] vmm::Segment from_vmx_segment(const VmxSegment& segment);

// The current privilege level VT-x keeps: SS.DPL (SDM vol. 3, 27.3.1.5).
[[nodiscard]] constexpr uint8_t cpl_from_ss(uint32_t ss_access_rights) {
    return static_cast<uint8_t>((ss_access_rights >> access_rights::kDplShift) & 3);
}

} // namespace halcyon::vmx
