// A 4-level page table as one template, used for the core's own address space and (with other
// Formats) for nested paging. Everything machine-specific is injected:
//   Format    - entry encoding: X86PageFormat (long mode, AMD NPT) or EptFormat (Intel EPT).
//   Memory    - `uint64_t* table_at(uint64_t physical)`: where a table is visible to us.
//   Allocator - `ErrorOr<uint64_t> allocate_table()` (a zeroed 4 KiB page, physical address)
//               and `void free_table(uint64_t physical)`.
// so the same walker runs in the core and against fake physical memory in host tests.
//
// The walker picks the largest page size the alignment of virtual AND physical address, the
// range and the permitted LargePages allow; remapping or protecting part of a large page splits
// it, mapping a large page over a subtree frees that subtree, and unmapping frees tables that
// became empty.
//
// Not done here (no hardware access in mm/): TLB invalidation. After unmap/protect/remap of a
// live address space the caller must invalidate (INVLPG / reload CR3 / INVEPT / ASID flush).
// Tables that become unused go back to the Allocator immediately; for a live address space the
// caller must flush before that memory is reused (paging-structure caches may still hold them).
// Not thread-safe: callers serialise changes to one PageTable.
// On an allocation failure part of the range may already be changed; the table stays
// consistent (every entry is either the old or the new mapping, splits preserve translations).
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/page_attributes.hpp"
#include <optional>
#include <stddef.h>
#include <stdint.h>
#include <utility>

namespace halcyon::mm {

template <typename Format, typename Memory, typename Allocator>
class PageTable {
public:
    static constexpr int kLevels = Format::kLevels;
    static constexpr size_t kEntries = 512;
    static constexpr uint64_t kSmallPage = 4096;
    // Highest virtual address bit translated (47 for 4-level paging).
    static constexpr int kVirtualBits = 12 + 9 * kLevels;

    // Allocates an empty root table.
    [[nodiscard]] static ErrorOr<PageTable> create(Memory memory, Allocator allocator,
                                                   LargePages large_pages) {
        const uint64_t root = TRY(allocator.allocate_table());
        return PageTable(std::move(memory), std::move(allocator), root, large_pages);
    }
    // Takes over an existing root (e.g. to extend the core's tables later).
    [[nodiscard]] static PageTable adopt(Memory memory, Allocator allocator, uint64_t root,
                                         LargePages large_pages) {
        return PageTable(std::move(memory), std::move(allocator), root, large_pages);
    }

    // Move-only: two copies would free the same tables.
    PageTable(PageTable&&) = default;
    PageTable(const PageTable&) = delete;
    PageTable& operator=(const PageTable&) = delete;
    PageTable& operator=(PageTable&&) = delete;

    // Physical address of the root table (CR3 / nCR3 / EPTP base).
    [[nodiscard]] uint64_t root() const { return root_; }
    [[nodiscard]] LargePages large_pages() const { return large_pages_; }
    [[nodiscard]] Memory& memory() { return memory_; }
    [[nodiscard]] Allocator& allocator() { return allocator_; }

    // Maps [virt, virt+size) to [physical, physical+size), replacing whatever was mapped there.
    [[nodiscard]] ErrorOr<void> map(uint64_t virt, uint64_t physical, uint64_t size,
                                    Attributes attributes) {
        TRY(check_range(virt, size));
        if (physical % kSmallPage != 0)
            return Error(ErrorCode::invalid_argument, "physical address is not page aligned");
        if (size == 0)
            return {};
        return map_in(root_, kLevels - 1, virt, virt + size - 1, physical - virt, attributes);
    }

    // Removes every mapping in [virt, virt+size); unmapped holes are fine. Frees empty tables.
    [[nodiscard]] ErrorOr<void> unmap(uint64_t virt, uint64_t size) {
        TRY(check_range(virt, size));
        if (size == 0)
            return {};
        TRY(unmap_in(root_, kLevels - 1, virt, virt + size - 1));
        return {};
    }

    // Changes the attributes of every page in [virt, virt+size). Fails with not_found and
    // changes nothing if any page of the range is unmapped.
    [[nodiscard]] ErrorOr<void> protect(uint64_t virt, uint64_t size, Attributes attributes) {
        TRY(check_range(virt, size));
        if (size == 0)
            return {};
        if (!is_mapped(virt, size))
            return Error(ErrorCode::not_found, "protect: range is not entirely mapped");
        return protect_in(root_, kLevels - 1, virt, virt + size - 1, attributes);
    }

    [[nodiscard]] std::optional<Translation> lookup(uint64_t virt) const {
        if (!is_canonical(virt))
            return std::nullopt;
        uint64_t table = root_;
        for (int level = kLevels - 1; level >= 0; --level) {
            const uint64_t entry = table_at(table)[index_of(virt, level)];
            if (!Format::is_present(entry))
                return std::nullopt;
            if (Format::is_leaf(entry, level)) {
                const uint64_t base = Format::address(entry, level);
                return Translation{
                    .physical = base + (virt & (level_size(level) - 1)),
                    .page_base = base,
                    .attributes = Format::attributes(entry, level),
                    .page_size = static_cast<PageSize>(level_size(level)),
                };
            }
            table = Format::address(entry, level);
        }
        return std::nullopt; // unreachable: level 0 entries are always leaves
    }

    // True when every page of [virt, virt+size) is mapped.
    [[nodiscard]] bool is_mapped(uint64_t virt, uint64_t size) const {
        if (size == 0)
            return true;
        // Inclusive bounds: a range may end at the very top of the address space.
        const uint64_t last = virt + size - 1;
        uint64_t address = virt;
        while (true) {
            const auto translation = lookup(address);
            if (!translation)
                return false;
            const uint64_t page_last = (address | (bytes(translation->page_size) - 1));
            if (page_last >= last)
                return true;
            address = page_last + 1;
        }
    }

    // Frees every table including the root. The PageTable must not be used afterwards.
    void destroy() {
        free_subtree(root_, kLevels - 1);
        root_ = 0;
    }

    [[nodiscard]] static constexpr uint64_t level_size(int level) {
        return kSmallPage << (9 * level);
    }

private:
    PageTable(Memory memory, Allocator allocator, uint64_t root, LargePages large_pages)
        : memory_(std::move(memory)), allocator_(std::move(allocator)), root_(root),
          large_pages_(large_pages) {}

    [[nodiscard]] uint64_t* table_at(uint64_t physical) const {
        return const_cast<Memory&>(memory_).table_at(physical);
    }
    [[nodiscard]] static constexpr size_t index_of(uint64_t virt, int level) {
        return (virt >> (12 + 9 * level)) & (kEntries - 1);
    }
    // Canonical: bits 63..kVirtualBits-1 are all equal.
    [[nodiscard]] static constexpr bool is_canonical(uint64_t virt) {
        const int64_t high = static_cast<int64_t>(virt) >> (kVirtualBits - 1);
        return high == 0 || high == -1;
    }
    [[nodiscard]] static ErrorOr<void> check_range(uint64_t virt, uint64_t size) {
        if (virt % kSmallPage != 0 || size % kSmallPage != 0)
            return Error(ErrorCode::invalid_argument, "range is not page aligned");
        if (size == 0)
            return {};
        const uint64_t last = virt + size - 1;
        if (last < virt)
            return Error(ErrorCode::out_of_range, "range wraps around the address space");
        // Both ends canonical and on the same side of the non-canonical hole.
        if (!is_canonical(virt) || !is_canonical(last) || ((virt ^ last) >> 63) != 0)
            return Error(ErrorCode::out_of_range, "range is not canonical");
        return {};
    }
    [[nodiscard]] bool leaf_allowed(int level) const {
        if (level == 0)
            return true;
        if (level > Format::kMaxLeafLevel)
            return false;
        if (level == 1)
            return large_pages_.size_2m;
        if (level == 2)
            return large_pages_.size_1g;
        return false;
    }

    // Replaces a present large-page entry at `level` by a table of `level - 1` leaves that map
    // the same memory with the same attributes; returns the new table's physical address.
    [[nodiscard]] ErrorOr<uint64_t> split(uint64_t& entry, int level) {
        const uint64_t table = TRY(allocator_.allocate_table());
        const uint64_t base = Format::address(entry, level);
        const Attributes attributes = Format::attributes(entry, level);
        uint64_t* entries = table_at(table);
        const uint64_t child_size = level_size(level - 1);
        for (size_t i = 0; i < kEntries; ++i)
            entries[i] = Format::make_leaf(base + i * child_size, attributes, level - 1);
        entry = Format::make_table(table);
        return table;
    }

    // The table below `entry` (a non-leaf at `level`), creating or splitting as needed.
    [[nodiscard]] ErrorOr<uint64_t> child_for_update(uint64_t& entry, int level) {
        if (!Format::is_present(entry)) {
            const uint64_t table = TRY(allocator_.allocate_table());
            entry = Format::make_table(table);
            return table;
        }
        if (Format::is_leaf(entry, level))
            return split(entry, level);
        return Format::address(entry, level);
    }

    // Frees the tables below a present non-leaf entry at `level` and the table itself.
    void free_subtree(uint64_t table, int level) {
        if (level > 0) {
            uint64_t* entries = table_at(table);
            for (size_t i = 0; i < kEntries; ++i) {
                if (Format::is_present(entries[i]) && !Format::is_leaf(entries[i], level))
                    free_subtree(Format::address(entries[i], level), level - 1);
            }
        }
        allocator_.free_table(table);
    }

    [[nodiscard]] bool is_empty(uint64_t table) const {
        const uint64_t* entries = table_at(table);
        for (size_t i = 0; i < kEntries; ++i) {
            if (Format::is_present(entries[i]))
                return false;
        }
        return true;
    }

    // Walks the entries of `table` (at `level`) that overlap [start, last] and calls
    // `visit(entry, chunk_start, chunk_last, covers_whole_entry)` for each. Bounds are inclusive
    // so that a range can end at the top of the address space without overflowing.
    template <typename Visit>
    [[nodiscard]] ErrorOr<void> for_each_entry(uint64_t table, int level, uint64_t start,
                                               uint64_t last, Visit visit) {
        uint64_t* entries = table_at(table);
        const uint64_t size = level_size(level);
        uint64_t address = start;
        while (true) {
            const uint64_t entry_start = address & ~(size - 1);
            const uint64_t entry_last = entry_start + (size - 1);
            const uint64_t chunk_last = entry_last < last ? entry_last : last;
            const bool whole = address == entry_start && chunk_last == entry_last;
            TRY(visit(entries[index_of(address, level)], address, chunk_last, whole));
            if (chunk_last == last)
                return {};
            address = chunk_last + 1;
        }
    }

    // `delta` = physical - virtual for the whole range (modulo 2^64).
    [[nodiscard]] ErrorOr<void> map_in(uint64_t table, int level, uint64_t start, uint64_t last,
                                       uint64_t delta, Attributes attributes) {
        return for_each_entry(
            table, level, start, last,
            [&](uint64_t& entry, uint64_t chunk_start, uint64_t chunk_last,
                bool whole) -> ErrorOr<void> {
                const uint64_t physical = chunk_start + delta;
                if (whole && leaf_allowed(level) && physical % level_size(level) == 0) {
                    const uint64_t old = entry;
                    entry = Format::make_leaf(physical, attributes, level);
                    if (Format::is_present(old) && !Format::is_leaf(old, level))
                        free_subtree(Format::address(old, level), level - 1);
                    return {};
                }
                const uint64_t child = TRY(child_for_update(entry, level));
                return map_in(child, level - 1, chunk_start, chunk_last, delta, attributes);
            });
    }

    [[nodiscard]] ErrorOr<void> unmap_in(uint64_t table, int level, uint64_t start, uint64_t last) {
        return for_each_entry(table, level, start, last,
                              [&](uint64_t& entry, uint64_t chunk_start, uint64_t chunk_last,
                                  bool whole) -> ErrorOr<void> {
                                  if (!Format::is_present(entry))
                                      return {};
                                  const bool leaf = Format::is_leaf(entry, level);
                                  if (whole) {
                                      const uint64_t old = entry;
                                      entry = 0;
                                      if (!leaf)
                                          free_subtree(Format::address(old, level), level - 1);
                                      return {};
                                  }
                                  const uint64_t child = TRY(child_for_update(entry, level));
                                  TRY(unmap_in(child, level - 1, chunk_start, chunk_last));
                                  if (is_empty(child)) {
                                      entry = 0;
                                      allocator_.free_table(child);
                                  }
                                  return {};
                              });
    }

    [[nodiscard]] ErrorOr<void> protect_in(uint64_t table, int level, uint64_t start, uint64_t last,
                                           Attributes attributes) {
        return for_each_entry(
            table, level, start, last,
            [&](uint64_t& entry, uint64_t chunk_start, uint64_t chunk_last,
                bool whole) -> ErrorOr<void> {
                if (!Format::is_present(entry))
                    return Error(ErrorCode::not_found, "protect: page is not mapped");
                const bool leaf = Format::is_leaf(entry, level);
                if (leaf && whole) {
                    entry = Format::make_leaf(Format::address(entry, level), attributes, level);
                    return {};
                }
                const uint64_t child = TRY(child_for_update(entry, level));
                return protect_in(child, level - 1, chunk_start, chunk_last, attributes);
            });
    }

    Memory memory_;
    Allocator allocator_;
    uint64_t root_;
    LargePages large_pages_;
};

} // namespace halcyon::mm
