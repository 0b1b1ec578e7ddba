#include "boot/uefi/core_image.hpp"

#include "boot/handoff/handoff.hpp"
#include "boot/uefi/firmware.hpp"

namespace halcyon::loader {

namespace {

constexpr uint64_t kLargePage = 2ull << 20;
// The kernel code model puts everything in the top 2 GiB; the core image must fit there.
constexpr uint64_t kMaxCoreSize = 2ull << 30;

} // namespace

ErrorOr<CoreImage> load_core_image(const elf::Image& image, std::span<const uint8_t> file) {
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

    uint64_t size = pages_for(image_end) * efi::kPageSize;
    uint64_t page_count = size / efi::kPageSize;
    // Over-allocate by 2 MiB, then give back the unaligned head and the unused tail: UEFI has
    // no aligned allocation, and AllocateAddress would need us to guess a free address.
    uint64_t slack_pages = kLargePage / efi::kPageSize;
    uint64_t raw = TRY(allocate_pages(page_count + slack_pages, handoff::kEfiTypeCoreImage));
    uint64_t base = (raw + kLargePage - 1) & ~(kLargePage - 1);
    uint64_t head_pages = (base - raw) / efi::kPageSize;
    free_pages(raw, head_pages);
    free_pages(base + size, slack_pages - head_pages);

    // allocate_pages() zeroed everything, which also clears .bss and the gaps between segments.
    for (size_t i = 0; i < image.load_segment_count(); ++i) {
        auto segment = image.load_segment(i);
        auto* destination = reinterpret_cast<uint8_t*>(
            base + (segment.virtual_address - handoff::kCoreVirtualBase));
        __builtin_memcpy(destination, file.data() + segment.file_offset, segment.file_size);
    }
    return CoreImage{.physical_base = base, .size = size, .entry = image.entry()};
}

} // namespace halcyon::loader
