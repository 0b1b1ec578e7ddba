#include "boot/common/core_layout.hpp"

#include "boot/handoff/handoff.hpp"

namespace halcyon::loader {

namespace {

constexpr uint64_t kPageSize = 4096;
// The kernel code model puts everything in the top 2 GiB; the core image must fit there.
constexpr uint64_t kMaxCoreSize = 2ull << 30;

} // namespace

ErrorOr<CoreLayout> plan_core_image(const elf::Image& image) {
    if (image.load_segment_count() == 0)
        return Error(ErrorCode::corrupt, "halcyon.elf has no loadable segments");

    uint64_t image_end = 0; // offset from kCoreVirtualBase
    bool entry_is_code = false;
    for (size_t i = 0; i < image.load_segment_count(); ++i) {
        auto segment = image.load_segment(i);
        if (segment.virtual_address < handoff::kCoreVirtualBase)
            return Error(ErrorCode::corrupt, "halcyon.elf is not linked at kCoreVirtualBase");
        uint64_t start = segment.virtual_address - handoff::kCoreVirtualBase;
        if (segment.memory_size > kMaxCoreSize || start > kMaxCoreSize - segment.memory_size)
            return Error(ErrorCode::corrupt, "halcyon.elf is larger than 2 GiB");
        if (start + segment.memory_size > image_end)
            image_end = start + segment.memory_size;
        if (segment.executable && image.entry() >= segment.virtual_address &&
            image.entry() - segment.virtual_address < segment.memory_size)
            entry_is_code = true;
    }
    if (!entry_is_code)
        return Error(ErrorCode::corrupt, "halcyon.elf's entry point is not in executable code");
    return CoreLayout{.size = (image_end + kPageSize - 1) & ~(kPageSize - 1),
                      .entry = image.entry()};
}

void copy_core_segments(const elf::Image& image, std::span<const uint8_t> file, uint8_t* block) {
    for (size_t i = 0; i < image.load_segment_count(); ++i) {
        auto segment = image.load_segment(i);
        __builtin_memcpy(block + (segment.virtual_address - handoff::kCoreVirtualBase),
                         file.data() + segment.file_offset, segment.file_size);
    }
}

} // namespace halcyon::loader
