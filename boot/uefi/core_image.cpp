#include "boot/uefi/core_image.hpp"

#include "boot/common/core_layout.hpp"
#include "boot/handoff/handoff.hpp"
#include "boot/uefi/firmware.hpp"

namespace halcyon::loader {

ErrorOr<CoreImage> load_core_image(const elf::Image& image, std::span<const uint8_t> file) {
    CoreLayout layout = TRY(plan_core_image(image));
    uint64_t page_count = layout.size / efi::kPageSize;
    // Over-allocate by 2 MiB, then give back the unaligned head and the unused tail: UEFI has
    // no aligned allocation, and AllocateAddress would need us to guess a free address.
    uint64_t slack_pages = kCoreImageAlignment / efi::kPageSize;
    uint64_t raw = TRY(allocate_pages(page_count + slack_pages, handoff::kEfiTypeCoreImage));
    uint64_t base = (raw + kCoreImageAlignment - 1) & ~(kCoreImageAlignment - 1);
    uint64_t head_pages = (base - raw) / efi::kPageSize;
    free_pages(raw, head_pages);
    free_pages(base + layout.size, slack_pages - head_pages);

    // allocate_pages() zeroed everything, which also clears .bss and the gaps between segments.
    copy_core_segments(image, file, reinterpret_cast<uint8_t*>(base));
    return CoreImage{.physical_base = base, .size = layout.size, .entry = layout.entry};
}

} // namespace halcyon::loader
