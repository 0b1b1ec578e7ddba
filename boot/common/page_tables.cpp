#include "boot/common/page_tables.hpp"

#include "boot/handoff/handoff.hpp"

namespace halcyon::loader {

namespace {

// x86-64 page table entry bits (Intel SDM vol. 3, 4.5).
constexpr uint64_t kPresent = 1ull << 0;
constexpr uint64_t kWritable = 1ull << 1;
constexpr uint64_t kLargePage = 1ull << 7; // PS: 1 GiB in a PDPT entry, 2 MiB in a PD entry
constexpr uint64_t kNoExecute = 1ull << 63;
constexpr uint64_t kAddressMask = 0x000F'FFFF'FFFF'F000ull;

constexpr uint64_t k4KiB = 1ull << 12;
constexpr uint64_t k2MiB = 1ull << 21;
constexpr uint64_t k1GiB = 1ull << 30;

class PageTableBuilder {
public:
    explicit PageTableBuilder(PageTableAllocator& allocator) : allocator_(allocator) {}

    [[nodiscard]] ErrorOr<void> init() {
        root_ = TRY(new_table());
        return {};
    }
    [[nodiscard]] uint64_t root() const { return root_; }

    // Maps [virtual_base, +size) to [physical_base, +size) with pages of `page_size`
    // (4 KiB, 2 MiB or 1 GiB; all three arguments aligned to it). Leaf permissions are
    // `flags`; where a 4 KiB page is already mapped (two segments sharing a page) the
    // permissions are combined, so neither segment loses access it needs.
    [[nodiscard]] ErrorOr<void> map(uint64_t virtual_base, uint64_t physical_base, uint64_t size,
                                    uint64_t page_size, uint64_t flags) {
        // The level whose entries map `page_size`: 1 = PT (4 KiB), 2 = PD, 3 = PDPT.
        int leaf_level = page_size == k1GiB ? 3 : page_size == k2MiB ? 2 : 1;
        for (uint64_t offset = 0; offset < size; offset += page_size) {
            uint64_t virtual_address = virtual_base + offset;
            uint64_t* table = reinterpret_cast<uint64_t*>(root_);
            for (int level = 4; level > leaf_level; --level) {
                uint64_t& entry = table[index(virtual_address, level)];
                if ((entry & kPresent) == 0)
                    entry = TRY(new_table()) | kPresent | kWritable;
                else if (entry & kLargePage)
                    return Error(ErrorCode::already_exists, "page table mappings overlap");
                table = reinterpret_cast<uint64_t*>(entry & kAddressMask);
            }
            uint64_t& leaf = table[index(virtual_address, leaf_level)];
            uint64_t large = leaf_level > 1 ? kLargePage : 0;
            uint64_t entry = (physical_base + offset) | kPresent | large | flags;
            if (leaf & kPresent) {
                if ((leaf & kAddressMask) != (entry & kAddressMask) || leaf_level != 1)
                    return Error(ErrorCode::already_exists, "page table mappings overlap");
                uint64_t writable = (leaf | entry) & kWritable;    // writable if either is
                uint64_t no_execute = (leaf & entry) & kNoExecute; // executable if either is
                entry = (entry & ~(kWritable | kNoExecute)) | writable | no_execute;
            }
            leaf = entry;
        }
        return {};
    }

private:
    [[nodiscard]] static size_t index(uint64_t virtual_address, int level) {
        return (virtual_address >> (12 + 9 * (level - 1))) & 0x1FF;
    }
    [[nodiscard]] ErrorOr<uint64_t> new_table() {
        uint64_t table = TRY(allocator_.allocate_table()); // zeroed: no entry present
        if (table % k4KiB != 0)
            return Error(ErrorCode::invalid_argument, "page table page is not page aligned");
        return table;
    }

    PageTableAllocator& allocator_;
    uint64_t root_ = 0;
};

} // namespace

ErrorOr<uint64_t> build_page_tables(const PageTableOptions& options, const elf::Image& core_elf,
                                    PageTableAllocator& allocator) {
    // The identity map uses PML4 slots 0-255 and the direct map slots 256-510 (511 holds the
    // core): 255 x 512 GiB of physical address space is the most either can cover.
    if (options.physical_limit > 255ull * 512 * k1GiB)
        return Error(ErrorCode::not_supported, "more than 127 TiB of physical address space");
    PageTableBuilder builder(allocator);
    TRY(builder.init());

    TRY(builder.map(0, 0, options.physical_limit, k2MiB, kWritable));
    TRY(builder.map(handoff::kDirectMapBase, 0, options.physical_limit,
                    options.use_1gib_pages ? k1GiB : k2MiB, kWritable | kNoExecute));

    for (size_t i = 0; i < core_elf.load_segment_count(); ++i) {
        auto segment = core_elf.load_segment(i);
        if (segment.memory_size == 0)
            continue;
        uint64_t start = segment.virtual_address & ~(k4KiB - 1);
        uint64_t end = (segment.virtual_address + segment.memory_size + k4KiB - 1) & ~(k4KiB - 1);
        uint64_t flags = (segment.writable ? kWritable : 0) | (segment.executable ? 0 : kNoExecute);
        uint64_t physical = options.core_physical_base + (start - handoff::kCoreVirtualBase);
        TRY(builder.map(start, physical, end - start, k4KiB, flags));
    }
    return builder.root();
}

} // namespace halcyon::loader
