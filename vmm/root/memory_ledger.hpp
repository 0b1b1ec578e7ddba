// Where each large page (2 MiB) of the root partition's memory is: in the root's own view,
// mapped into a child partition (HvMapGpaPages), or deposited with the core for a child's
// overhead (HvDepositMemory). Every page is in exactly one place; the checks here decide
// whether a root may move a page at all (docs/management-partition.md, "Memory"). Pure
// bookkeeping: the dispatcher moves the frames (Partition::detach/attach_memory_chunk) and
// records the move here.
#pragma once

#include "vmm/root/abi.hpp"

#include <optional>
#include <stdint.h>

namespace halcyon::vmm::root {

// The root's RAM is at most what one partition may hold (vmm::kMaxMemoryChunks large pages).
inline constexpr uint32_t kMaxRootLargePages = 1024;
// Children get guest-physical addresses below 64 GiB (within every CPU's MAXPHYADDR and the
// nested tables' reach).
inline constexpr uint64_t kChildAddressLimit = 64ull << 30;
// The large page holding the local APIC page (0xFEE00000): the partition emulates the APIC
// there, so it can never be RAM.
inline constexpr uint64_t kApicLargePage = 0xFEE0'0000;

enum class Place : uint8_t { root, mapped, deposited };

struct LargePageEntry {
    Place place = Place::root;
    uint64_t partition_id = 0;  // mapped / deposited: the child
    uint64_t child_address = 0; // mapped: its guest-physical address in the child
    uint64_t host_physical = 0; // while out of the root's view: where the frames are
};

class MemoryLedger {
public:
    // The root's RAM: [0, root_bytes), whole large pages only (a partial one stays the root's).
    explicit MemoryLedger(uint64_t root_bytes);

    [[nodiscard]] uint32_t large_pages() const { return count_; }
    [[nodiscard]] const LargePageEntry& entry(uint32_t index) const { return entries_[index]; }
    [[nodiscard]] static uint64_t root_address(uint32_t index) {
        return uint64_t{index} * kLargePageBytes;
    }

    // A page frame number naming a large page of the root's memory that the root can give
    // away now: 2 MiB aligned (invalid_parameter), within the root's RAM (invalid_parameter)
    // and in the root's view (invalid_parameter: already mapped into a child or deposited -
    // a list naming one page twice fails on its second entry). On success `index` is its slot.
    [[nodiscard]] Status check_root_page(uint64_t page_number, uint32_t& index) const;
    // A guest-physical address a large page may be mapped at in child `partition_id`: aligned,
    // below kChildAddressLimit, not the local APIC's large page, not mapped already.
    [[nodiscard]] Status check_child_address(uint64_t partition_id, uint64_t address) const;

    void record_mapped(uint32_t index, uint64_t partition_id, uint64_t child_address,
                       uint64_t host_physical);
    void record_deposited(uint32_t index, uint64_t partition_id, uint64_t host_physical);
    void record_returned(uint32_t index); // back in the root's view

    [[nodiscard]] std::optional<uint32_t> find_mapped(uint64_t partition_id,
                                                      uint64_t child_address) const;
    // Any one large page deposited for `partition_id`.
    [[nodiscard]] std::optional<uint32_t> find_deposited(uint64_t partition_id) const;
    // How many large pages are in `place` for `partition_id` (place root: the root's own,
    // partition_id ignored).
    [[nodiscard]] uint32_t count(Place place, uint64_t partition_id) const;

private:
    LargePageEntry entries_[kMaxRootLargePages];
    uint32_t count_ = 0;
};

} // namespace halcyon::vmm::root
