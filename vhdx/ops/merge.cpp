// Range-by-range merge of a differencing child into its parent; see merge.hpp for the
// consistency argument.
#include "vhdx/ops/merge.hpp"

#include "vhdx/ops/image.hpp"

#include <string.h>

namespace halcyon::vhdx::ops {

ErrorOr<bool> read_merge_record(const Disk& child, MergeRecord& out) {
    for (uint32_t i = 0; i < child.metadata_item_count(); ++i) {
        if (!(child.metadata_item(i).id == kMergeRecordItem))
            continue;
        uint8_t bytes[sizeof(MergeRecord)] = {};
        uint32_t length = TRY(child.read_metadata(kMergeRecordItem, bytes));
        memcpy(&out, bytes, sizeof(out));
        if (length != sizeof(MergeRecord) || out.magic != kMergeRecordMagic || out.version != 1)
            return Error(ErrorCode::corrupt, "merge: the child's merge record is malformed");
        return true;
    }
    return false;
}

ErrorOr<Merger> Merger::start(Disk& child, Disk& parent, Allocator& allocator,
                              const MergeOptions& options) {
    DiskInfo child_info = child.info();
    DiskInfo parent_info = parent.info();
    if (child_info.type != DiskType::differencing || child.parent() == nullptr)
        return Error(ErrorCode::invalid_argument, "merge: the child is not a differencing disk");
    if (!(child.parent()->info().disk_id == parent_info.disk_id))
        return Error(ErrorCode::invalid_argument,
                     "merge: the parent given is not the child's parent (disk ids differ)");
    if (parent_info.virtual_size != child_info.virtual_size ||
        parent_info.logical_sector_size != child_info.logical_sector_size)
        return Error(ErrorCode::corrupt, "merge: parent and child geometry differ");
    if (options.chunk_size == 0 || options.chunk_size % child_info.logical_sector_size != 0 ||
        child_info.block_size % options.chunk_size != 0)
        return Error(ErrorCode::invalid_argument,
                     "merge: chunk size must divide the block size and be sector aligned");
    Merger merger;
    merger.child_ = &child;
    merger.parent_ = &parent;
    merger.allocator_ = &allocator;
    merger.options_ = options;
    merger.block_size_ = child_info.block_size;
    merger.virtual_size_ = child_info.virtual_size;
    merger.blocks_ = (child_info.virtual_size + merger.block_size_ - 1) / merger.block_size_;
    merger.parent_disk_id_ = parent_info.disk_id;
    merger.child_chunk_ = TRY(Buffer::allocate(allocator, options.chunk_size));
    merger.parent_chunk_ = TRY(Buffer::allocate(allocator, options.chunk_size));
    merger.dirty_ = TRY(Buffer::allocate(allocator, (merger.blocks_ + 7) / 8));

    MergeRecord previous{};
    if (TRY(read_merge_record(child, previous))) {
        if (!(previous.parent_disk_id == parent_info.disk_id))
            return Error(ErrorCode::corrupt,
                         "merge: the child's merge record names a different parent");
        // A live merge's dirty marks were lost with the crash: start over (idempotent).
        bool resumable = (previous.flags & kMergeLive) == 0 && !options.live;
        if (resumable && previous.resume_block <= merger.blocks_)
            merger.cursor_ = previous.resume_block;
    }
    // Recorded before the parent's first change, so the child stays openable from now on.
    TRY(merger.write_record(merger.cursor_, options.live ? kMergeLive : 0));
    return merger;
}

ErrorOr<void> Merger::write_record(uint64_t resume_block, uint32_t flags) {
    MergeRecord record{};
    record.magic = kMergeRecordMagic;
    record.version = 1;
    record.flags = flags;
    record.parent_disk_id = parent_disk_id_;
    record.resume_block = options_.live ? 0 : resume_block;
    TRY(child_->write_metadata(kMergeRecordItem,
                               {reinterpret_cast<const uint8_t*>(&record), sizeof(record)}, false));
    return child_->flush();
}

uint64_t Merger::first_dirty() const {
    if (dirty_count_ == 0)
        return blocks_;
    const uint8_t* bits = dirty_.data();
    for (uint64_t block = 0; block < blocks_; ++block)
        if (bits[block / 8] & (1u << (block % 8)))
            return block;
    return blocks_;
}

void Merger::note_guest_write(uint64_t offset, uint64_t length) {
    if (length == 0 || offset >= virtual_size_)
        return;
    uint64_t last = (offset + length - 1) / block_size_;
    uint8_t* bits = dirty_.data();
    for (uint64_t block = offset / block_size_; block <= last && block < blocks_; ++block) {
        // Blocks at or after the cursor will be merged anyway.
        if (block >= cursor_)
            break;
        uint8_t mask = static_cast<uint8_t>(1u << (block % 8));
        if ((bits[block / 8] & mask) == 0) {
            bits[block / 8] |= mask;
            dirty_count_++;
        }
    }
}

ErrorOr<void> Merger::merge_block(uint64_t block) {
    uint64_t state_offset = 0;
    BlockState state = TRY(child_->block_state(block, &state_offset));
    if (state == BlockState::not_present)
        return {}; // the parent already shows through here
    uint64_t start = block * block_size_;
    uint64_t end = start + block_size_ < virtual_size_ ? start + block_size_ : virtual_size_;
    if (state == BlockState::zero || state == BlockState::unmapped ||
        state == BlockState::undefined) {
        // The child hides the parent with zeros: let the parent drop its blocks (a hint; the
        // compare loop below writes zeros wherever the parent still has data).
        TRY(parent_->trim(start, end - start));
    }
    for (uint64_t offset = start; offset < end; offset += options_.chunk_size) {
        uint64_t length = end - offset < options_.chunk_size ? end - offset : options_.chunk_size;
        std::span<uint8_t> mine = child_chunk_.span().subspan(0, length);
        TRY(child_->read(offset, mine));
        bool unchanged;
        if (state == BlockState::fully_present && !is_all_zero(mine)) {
            // The child holds every sector: nothing to compare, the parent takes it as is.
            unchanged = false;
        } else if (TRY(chain_may_have_data(*parent_, offset, length))) {
            std::span<uint8_t> theirs = parent_chunk_.span().subspan(0, length);
            TRY(parent_->read(offset, theirs));
            unchanged = memcmp(mine.data(), theirs.data(), length) == 0;
        } else {
            unchanged = is_all_zero(mine);
        }
        if (unchanged) {
            stats_.bytes_unchanged += length;
        } else {
            TRY(parent_->write(offset, mine));
            stats_.bytes_written += length;
        }
    }
    stats_.blocks_merged++;
    since_checkpoint_ += end - start;
    return {};
}

ErrorOr<void> Merger::checkpoint() {
    // Parent data first, then the record that vouches for it.
    TRY(parent_->flush());
    uint64_t resume = first_dirty();
    TRY(write_record(resume < cursor_ ? resume : cursor_, options_.live ? kMergeLive : 0));
    since_checkpoint_ = 0;
    return {};
}

ErrorOr<bool> Merger::step() {
    uint64_t block;
    if (dirty_count_ > 0) {
        block = first_dirty();
        dirty_.data()[block / 8] &= static_cast<uint8_t>(~(1u << (block % 8)));
        dirty_count_--;
    } else if (cursor_ < blocks_) {
        block = cursor_++;
    } else {
        return false;
    }
    TRY(merge_block(block));
    if (options_.progress != nullptr)
        options_.progress->update(cursor_ * block_size_ < virtual_size_ ? cursor_ * block_size_
                                                                        : virtual_size_,
                                  virtual_size_);
    if (since_checkpoint_ >= options_.checkpoint_bytes)
        TRY(checkpoint());
    return true;
}

ErrorOr<void> Merger::finish() {
    if (dirty_count_ > 0 || cursor_ < blocks_)
        return Error(ErrorCode::busy, "merge: blocks remain to be merged");
    TRY(parent_->flush());
    return write_record(blocks_, kMergeComplete | (options_.live ? kMergeLive : 0));
}

ErrorOr<void> Merger::run() {
    while (TRY(step())) {
    }
    return finish();
}

} // namespace halcyon::vhdx::ops
