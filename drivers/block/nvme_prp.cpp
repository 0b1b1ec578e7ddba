#include "drivers/block/nvme_prp.hpp"

namespace halcyon::drivers::block::nvme {
namespace {

// Bytes of the transfer PRP1 covers: up to the end of its page.
uint64_t first_page_bytes(uint64_t address, uint32_t page_size) {
    return page_size - (address & (page_size - 1));
}

} // namespace

uint64_t prp_list_entries(uint64_t address, uint64_t length, uint32_t page_size) {
    const uint64_t first = first_page_bytes(address, page_size);
    if (length <= first)
        return 0;
    const uint64_t further_pages = (length - first + page_size - 1) / page_size;
    return further_pages <= 1 ? 0 : further_pages;
}

uint32_t prp_list_pages_needed(uint64_t max_length, uint32_t page_size) {
    // The worst case is a buffer that starts 4 bytes before a page boundary.
    const uint64_t entries = prp_list_entries(page_size - 4, max_length, page_size);
    if (entries == 0)
        return 0;
    const uint64_t per_page = page_size / 8;
    // Every list page but the last gives up its final entry to the chain pointer.
    return static_cast<uint32_t>(
        entries <= per_page ? 1 : (entries - 1 + per_page - 2) / (per_page - 1));
}

ErrorOr<Prps> build_prps(uint64_t address, uint64_t length, uint32_t page_size,
                         std::span<const DmaRegion> list_pages) {
    if (length == 0)
        return Error(ErrorCode::invalid_argument, "empty NVMe transfer");
    if ((address & 3) != 0)
        return Error(ErrorCode::invalid_argument, "NVMe data buffer is not dword aligned");
    if (page_size < 4096 || (page_size & (page_size - 1)) != 0)
        return Error(ErrorCode::invalid_argument, "NVMe memory page size is not a power of two");
    Prps prps;
    prps.prp1 = address;
    const uint64_t first = first_page_bytes(address, page_size);
    if (length <= first)
        return prps;
    const uint64_t second_page = (address & ~uint64_t(page_size - 1)) + page_size;
    const uint64_t entries = prp_list_entries(address, length, page_size);
    if (entries == 0) {
        prps.prp2 = second_page;
        return prps;
    }
    const uint64_t per_page = page_size / 8;
    uint64_t written = 0;
    for (size_t list = 0; written < entries; ++list) {
        if (list >= list_pages.size())
            return Error(ErrorCode::out_of_range, "NVMe transfer needs more PRP list pages");
        const DmaRegion& page = list_pages[list];
        if (page.size < page_size || (page.device_address & (page_size - 1)) != 0)
            return Error(ErrorCode::invalid_argument, "NVMe PRP list page is not a whole page");
        if (list == 0)
            prps.prp2 = page.device_address;
        const uint64_t left = entries - written;
        // A full page chains to the next one through its last entry when more entries follow.
        const uint64_t here = left <= per_page ? left : per_page - 1;
        uint64_t* slots = reinterpret_cast<uint64_t*>(page.virt);
        for (uint64_t i = 0; i < here; ++i)
            slots[i] = second_page + (written + i) * page_size;
        written += here;
        if (written < entries) {
            if (list + 1 >= list_pages.size())
                return Error(ErrorCode::out_of_range, "NVMe transfer needs more PRP list pages");
            slots[per_page - 1] = list_pages[list + 1].device_address;
        }
    }
    return prps;
}

} // namespace halcyon::drivers::block::nvme
