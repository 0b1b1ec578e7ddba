// How the Hyper-V code puts an overlay page into guest memory. The TLFS overlays the hypercall
// page, the reference TSC page and the VP assist page on the guest-physical address space
// (they hide whatever RAM is there until disabled); Halcyon simplifies that to a copy into the
// guest's RAM at that address (docs/hyperv.md, "Overlay pages"). The partition implements this
// interface over its guest memory.
#pragma once

#include <span>
#include <stdint.h>

namespace halcyon::vmm::hyperv {

class GuestPageWriter {
public:
    // Makes the 4 KiB guest-physical page at `page_address` (page aligned) hold `prefix`
    // followed by zeros up to the end of the page. False (and nothing written) if the page is
    // not the guest's RAM. `prefix` is at most one page; it may be empty (a zeroed page), and
    // then its data() may be null.
    [[nodiscard]] virtual bool fill_page(uint64_t page_address,
                                         std::span<const uint8_t> prefix) = 0;

protected:
    ~GuestPageWriter() = default;
};

} // namespace halcyon::vmm::hyperv
