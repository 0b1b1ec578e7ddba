#include "mm/frame_allocator.hpp"

#include <string.h>

namespace halcyon::mm {

namespace {

constexpr uint64_t kBitsPerWord = 64;

// The part of a usable region the allocator may manage: whole pages at or above 1 MiB.
struct FrameRange {
    uint64_t first; // frame numbers, [first, end)
    uint64_t end;
    [[nodiscard]] bool empty() const { return first >= end; }
};

FrameRange frames_of(const handoff::MemoryRegion& region, bool clip_low_memory) {
    const uint64_t max_pages = (~0ULL >> kPageShift) - (region.physical_base >> kPageShift);
    const uint64_t pages = region.page_count < max_pages ? region.page_count : max_pages;
    uint64_t first = (region.physical_base + kPageSize - 1) >> kPageShift;
    const uint64_t end = (region.physical_base >> kPageShift) + pages;
    if (clip_low_memory && first < (kLowMemoryLimit >> kPageShift))
        first = kLowMemoryLimit >> kPageShift;
    return FrameRange{first, end};
}

// Frames the allocator's bitmaps must cover: from the lowest to the highest usable frame.
FrameRange covered_frames(std::span<const handoff::MemoryRegion> map) {
    FrameRange covered{~0ULL, 0};
    for (const auto& region : map) {
        if (region.type != handoff::MemoryType::usable)
            continue;
        const FrameRange range = frames_of(region, true);
        if (range.empty())
            continue;
        if (range.first < covered.first)
            covered.first = range.first;
        if (range.end > covered.end)
            covered.end = range.end;
    }
    return covered;
}

uint64_t words_for(uint64_t frames) {
    return (frames + kBitsPerWord - 1) / kBitsPerWord;
}

// Sets or clears bits [first, first + count), a whole word at a time where possible: building
// the allocator for a large machine touches every frame of it.
void set_bits(uint64_t* bitmap, uint64_t first, uint64_t count, bool value) {
    uint64_t index = first;
    const uint64_t end = first + count;
    while (index < end) {
        const uint64_t bit = index % kBitsPerWord;
        const uint64_t span = end - index < kBitsPerWord - bit ? end - index : kBitsPerWord - bit;
        const uint64_t mask = (span == kBitsPerWord ? ~0ULL : ((1ULL << span) - 1)) << bit;
        if (value)
            bitmap[index / kBitsPerWord] |= mask;
        else
            bitmap[index / kBitsPerWord] &= ~mask;
        index += span;
    }
}

} // namespace

size_t FrameAllocator::metadata_words(std::span<const handoff::MemoryRegion> map) {
    const FrameRange covered = covered_frames(map);
    if (covered.empty())
        return 0;
    return 2 * words_for(covered.end - covered.first);
}

ErrorOr<FrameAllocator> FrameAllocator::create(std::span<const handoff::MemoryRegion> map,
                                               MetadataPlacement placement) {
    const FrameRange covered = covered_frames(map);
    if (covered.empty())
        return Error(ErrorCode::out_of_memory, "memory map has no usable memory above 1 MiB");
    const uint64_t frame_count = covered.end - covered.first;
    const uint64_t words = words_for(frame_count);

    uint64_t* storage = nullptr;
    uint64_t carved_physical = 0;
    uint64_t carved_bytes = 0;
    if (!placement.storage.empty()) {
        if (placement.storage.size() < 2 * words)
            return Error(ErrorCode::invalid_argument, "frame allocator metadata storage too small");
        storage = placement.storage.data();
    } else {
        carved_bytes = (2 * words * sizeof(uint64_t) + kPageSize - 1) & ~(kPageSize - 1);
        for (const auto& region : map) {
            if (region.type != handoff::MemoryType::usable)
                continue;
            const FrameRange range = frames_of(region, true);
            if (!range.empty() && (range.end - range.first) * kPageSize >= carved_bytes) {
                carved_physical = range.first << kPageShift;
                break;
            }
        }
        if (carved_physical == 0)
            return Error(ErrorCode::out_of_memory, "no usable region can hold the frame bitmaps");
        storage = placement.window.to_virtual<uint64_t>(carved_physical);
    }
    memset(storage, 0, 2 * words * sizeof(uint64_t));

    FrameAllocator allocator(storage, storage + words, covered.first, frame_count);
    allocator.metadata_physical_ = carved_physical;
    allocator.metadata_bytes_ = carved_bytes;

    const auto set_managed = [&](FrameRange range, bool value) {
        const uint64_t first = range.first > covered.first ? range.first : covered.first;
        const uint64_t end = range.end < covered.end ? range.end : covered.end;
        if (first < end)
            set_bits(allocator.managed_, first - covered.first, end - first, value);
    };
    for (const auto& region : map) {
        if (region.type == handoff::MemoryType::usable)
            set_managed(frames_of(region, true), true);
    }
    // A malformed map could overlap a usable region with something else; the other type wins.
    for (const auto& region : map) {
        if (region.type != handoff::MemoryType::usable) {
            FrameRange range = frames_of(region, false);
            range.first = region.physical_base >> kPageShift; // partial pages count as taken
            set_managed(range, false);
        }
    }
    if (carved_bytes != 0)
        set_managed(FrameRange{carved_physical >> kPageShift,
                               (carved_physical + carved_bytes) >> kPageShift},
                    false);

    size_t total = 0;
    for (uint64_t i = 0; i < words; ++i)
        total += static_cast<size_t>(__builtin_popcountll(allocator.managed_[i]));
    if (total == 0)
        return Error(ErrorCode::out_of_memory, "no usable memory left after the frame bitmaps");
    allocator.total_pages_ = total;
    allocator.free_pages_ = total;
    return allocator;
}

FrameAllocator::FrameAllocator(uint64_t* managed, uint64_t* allocated, uint64_t first_frame,
                               uint64_t frame_count)
    : managed_(managed), allocated_(allocated), first_frame_(first_frame),
      frame_count_(frame_count) {}

FrameAllocator::FrameAllocator(FrameAllocator&& other)
    : managed_(other.managed_), allocated_(other.allocated_), first_frame_(other.first_frame_),
      frame_count_(other.frame_count_), total_pages_(other.total_pages_),
      free_pages_(other.free_pages_), next_fit_(other.next_fit_),
      metadata_physical_(other.metadata_physical_), metadata_bytes_(other.metadata_bytes_) {
    other.managed_ = nullptr;
    other.allocated_ = nullptr;
    other.frame_count_ = 0;
    other.total_pages_ = 0;
    other.free_pages_ = 0;
}

bool FrameAllocator::test(const uint64_t* bitmap, uint64_t index) const {
    return (bitmap[index / kBitsPerWord] >> (index % kBitsPerWord)) & 1;
}

bool FrameAllocator::is_available(uint64_t index) const {
    return test(managed_, index) && !test(allocated_, index);
}

// First run of `pages` available frames in bit range [start, end) whose frame number is a
// multiple of alignment_pages. Returns its bit index.
ErrorOr<uint64_t> FrameAllocator::find_run(uint64_t start, uint64_t end, size_t pages,
                                           size_t alignment_pages) const {
    const auto align_index = [&](uint64_t index) {
        const uint64_t frame = first_frame_ + index;
        const uint64_t aligned = (frame + alignment_pages - 1) & ~(uint64_t(alignment_pages) - 1);
        return aligned - first_frame_;
    };
    uint64_t candidate = align_index(start);
    while (candidate < end && end - candidate >= pages) {
        uint64_t index = candidate;
        const uint64_t run_end = candidate + pages;
        bool found = true;
        while (index < run_end) {
            // Look at whole words where possible: a full region is then skipped 64 frames at
            // a time.
            if (index % kBitsPerWord == 0 && index + kBitsPerWord <= run_end) {
                const uint64_t available =
                    managed_[index / kBitsPerWord] & ~allocated_[index / kBitsPerWord];
                if (available == ~0ULL) {
                    index += kBitsPerWord;
                    continue;
                }
                if (available == 0) {
                    index += kBitsPerWord;
                    found = false;
                    break;
                }
            }
            if (!is_available(index++)) {
                found = false;
                break;
            }
        }
        if (found)
            return candidate;
        // Every run starting before `index` contains the unavailable frame just seen.
        candidate = align_index(index);
    }
    return Error(ErrorCode::out_of_memory, "no free physical memory run of that size");
}

void FrameAllocator::mark_range(uint64_t first_index, size_t pages, bool allocated) {
    set_bits(allocated_, first_index, pages, allocated);
}

ErrorOr<uint64_t> FrameAllocator::allocate(size_t pages, size_t alignment_pages) {
    if (pages == 0)
        return Error(ErrorCode::invalid_argument, "cannot allocate zero pages");
    if (alignment_pages == 0 || (alignment_pages & (alignment_pages - 1)) != 0)
        return Error(ErrorCode::invalid_argument, "alignment must be a power of two");
    SpinLockGuard guard(lock_);
    if (pages > free_pages_)
        return Error(ErrorCode::out_of_memory, "not enough free physical memory");
    // Next fit: start where the last allocation ended, wrap around once.
    auto run = find_run(next_fit_, frame_count_, pages, alignment_pages);
    const uint64_t index =
        run.is_error() ? TRY(find_run(0, frame_count_, pages, alignment_pages)) : run.value();
    mark_range(index, pages, true);
    free_pages_ -= pages;
    next_fit_ = index + pages < frame_count_ ? index + pages : 0;
    return (first_frame_ + index) << kPageShift;
}

ErrorOr<void> FrameAllocator::free(uint64_t physical, size_t pages) {
    if (physical % kPageSize != 0)
        return Error(ErrorCode::invalid_argument, "freed address is not page aligned");
    if (pages == 0)
        return Error(ErrorCode::invalid_argument, "cannot free zero pages");
    SpinLockGuard guard(lock_);
    const uint64_t frame = physical >> kPageShift;
    if (frame < first_frame_ || frame - first_frame_ > frame_count_ ||
        pages > frame_count_ - (frame - first_frame_))
        return Error(ErrorCode::permission, "freed memory is not managed by the frame allocator");
    const uint64_t first_index = frame - first_frame_;
    for (uint64_t index = first_index; index < first_index + pages; ++index) {
        if (!test(managed_, index))
            return Error(ErrorCode::permission, "freed memory is reserved, not allocatable");
    }
    for (uint64_t index = first_index; index < first_index + pages; ++index) {
        if (!test(allocated_, index))
            return Error(ErrorCode::corrupt, "double free of a physical page");
    }
    mark_range(first_index, pages, false);
    free_pages_ += pages;
    return {};
}

ErrorOr<void> FrameAllocator::reserve(uint64_t physical, size_t pages) {
    if (physical % kPageSize != 0)
        return Error(ErrorCode::invalid_argument, "reserved address is not page aligned");
    if (pages == 0)
        return Error(ErrorCode::invalid_argument, "cannot reserve zero pages");
    SpinLockGuard guard(lock_);
    const uint64_t frame = physical >> kPageShift;
    if (frame < first_frame_ || frame - first_frame_ > frame_count_ ||
        pages > frame_count_ - (frame - first_frame_))
        return Error(ErrorCode::permission, "reserved memory is not managed by the allocator");
    const uint64_t first_index = frame - first_frame_;
    for (uint64_t index = first_index; index < first_index + pages; ++index) {
        if (!test(managed_, index))
            return Error(ErrorCode::permission, "reserved memory is not allocatable");
        if (test(allocated_, index))
            return Error(ErrorCode::busy, "reserved memory is already allocated");
    }
    mark_range(first_index, pages, true);
    free_pages_ -= pages;
    return {};
}

size_t FrameAllocator::free_pages() const {
    SpinLockGuard guard(lock_);
    return free_pages_;
}

size_t FrameAllocator::total_pages() const {
    SpinLockGuard guard(lock_);
    return total_pages_;
}

bool FrameAllocator::is_managed(uint64_t physical) const {
    SpinLockGuard guard(lock_);
    const uint64_t frame = physical >> kPageShift;
    if (frame < first_frame_ || frame - first_frame_ >= frame_count_)
        return false;
    return test(managed_, frame - first_frame_);
}

bool FrameAllocator::is_allocated(uint64_t physical) const {
    SpinLockGuard guard(lock_);
    const uint64_t frame = physical >> kPageShift;
    if (frame < first_frame_ || frame - first_frame_ >= frame_count_)
        return false;
    return test(managed_, frame - first_frame_) && test(allocated_, frame - first_frame_);
}

} // namespace halcyon::mm
