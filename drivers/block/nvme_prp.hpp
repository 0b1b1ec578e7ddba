// Physical Region Page entries (NVMe 1.4, 4.3): how a command names its data buffer. PRP1 is the
// first page (with the buffer's offset into it); PRP2 is the second page when the transfer ends
// there, else the address of a PRP list: one 8-byte entry per further page, the last entry of
// a full list page pointing to the next list page. Pure, so the layout is host-tested.
#pragma once

#include "drivers/net/device_memory.hpp"
#include "lib/base/error_or.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::drivers::block::nvme {

struct Prps {
    uint64_t prp1 = 0;
    uint64_t prp2 = 0;
};

// Entries a transfer of `length` bytes at `address` needs in PRP lists (0 when PRP1/PRP2 do).
[[nodiscard]] uint64_t prp_list_entries(uint64_t address, uint64_t length, uint32_t page_size);

// List pages (each `page_size` bytes, page aligned) for up to `max_length` bytes at any offset.
[[nodiscard]] uint32_t prp_list_pages_needed(uint64_t max_length, uint32_t page_size);

// Describes the physically contiguous buffer [address, address + length) with `page_size`
// pages, writing the PRP lists into `list_pages` when it needs them. `address` is dword aligned.
[[nodiscard]] ErrorOr<Prps> build_prps(uint64_t address, uint64_t length, uint32_t page_size,
                                       std::span<const DmaRegion> list_pages);

} // namespace halcyon::drivers::block::nvme
