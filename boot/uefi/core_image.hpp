// Places the core (halcyon.elf) in memory: its PT_LOAD segments copied into one contiguous,
// 2 MiB-aligned physical block (kEfiTypeCoreImage) whose start corresponds to
// handoff::kCoreVirtualBase, so that virtual = kCoreVirtualBase + (physical - base).
#pragma once

#include "lib/base/error_or.hpp"
#include "lib/elf/elf_image.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::loader {

struct CoreImage {
    uint64_t physical_base; // 2 MiB aligned
    uint64_t size;          // bytes, page rounded, from kCoreVirtualBase to the last segment end
    uint64_t entry;         // virtual
};

[[nodiscard]] ErrorOr<CoreImage> load_core_image(const elf::Image& image,
                                                 std::span<const uint8_t> file);

} // namespace halcyon::loader
