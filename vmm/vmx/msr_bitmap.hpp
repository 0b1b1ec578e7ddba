// The VT-x MSR bitmap (SDM vol. 3, 25.6.9): one 4 KiB page, four 1 KiB bitmaps (reads of MSRs
// 0..1FFFh, reads of C0000000h..C0001FFFh, then writes of both ranges). A set bit makes the
// access exit; MSRs outside both ranges always exit. Pure code over a byte array, like SVM's
// permission maps, with the same policy: everything intercepted, then an allow list.
#pragma once

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vmx {

inline constexpr size_t kMsrBitmapBytes = 4096;

void intercept_all_msrs(std::span<uint8_t> bitmap);

// Lets the guest read and/or write `msr` without an exit; false for MSRs the bitmap does not
// cover (those always exit).
[[nodiscard]] bool allow_msr_access(std::span<uint8_t> bitmap, uint32_t msr, bool read, bool write);

[[nodiscard]] bool msr_access_exits(std::span<const uint8_t> bitmap, uint32_t msr, bool write);

} // namespace halcyon::vmx
