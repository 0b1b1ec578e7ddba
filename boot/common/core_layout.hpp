// Where the core's image goes, shared by both loaders: halcyon.elf's PT_LOAD segments are copied
// into one contiguous block of physical memory whose first byte corresponds to
// handoff::kCoreVirtualBase (virtual = kCoreVirtualBase + (physical - block)). The block is 2 MiB
// aligned so the core can later map it with large pages. Pure code: the caller allocates the
// zeroed block (each loader has its own allocator); these functions size it and fill it.
#pragma once

#include "lib/base/error_or.hpp"
#include "lib/elf/elf_image.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::loader {

inline constexpr uint64_t kCoreImageAlignment = 2ull << 20;

struct CoreLayout {
    uint64_t size;  // bytes, page rounded, from kCoreVirtualBase to the end of the last segment
    uint64_t entry; // virtual
};

// Checks that the image can be placed (linked at kCoreVirtualBase, fits the kernel code model's
// 2 GiB window, entry point inside an executable segment) and returns the block size it needs.
[[nodiscard]] ErrorOr<CoreLayout> plan_core_image(const elf::Image& image);

// Copies each segment's file bytes to its place in `block` (plan_core_image().size bytes,
// already zeroed: that zero-fills .bss and the gaps between segments). `file` is the span the
// image was parsed from.
void copy_core_segments(const elf::Image& image, std::span<const uint8_t> file, uint8_t* block);

} // namespace halcyon::loader
