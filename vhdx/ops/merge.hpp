// Merging a differencing child into its parent, range by range (the checkpoint "live merge").
//
// How the chain stays consistent while the merge runs (and after a crash at any point):
// - The child stays on top of the parent the whole time. A merge step copies the child's view
//   of one child block (its own sectors plus the parent's sectors it shows through) into the
//   parent. In every range the child stores, the child wins, so whatever the parent holds there
//   - old data, half-copied data, new data - the chain child -> parent reads the same bytes. A
//   crash mid-step therefore loses nothing, and copying a range twice is harmless.
// - Changing the parent renews its DataWriteGuid, which would stop the child from opening
//   (parent_linkage no longer matches). So before the first change, the merge records a
//   "merge in progress" user metadata item in the child (through the child's log): the parent's
//   virtual disk id and the block to resume from. A child carrying that record may be opened
//   with OpenOptions::ignore_parent_linkage as long as the parent's disk id matches; the
//   tool's `vhdx merge` does that to resume.
// - The resume point is written after the parent has been flushed (parent data durable before
//   the record that says it is there). Guest writes during a live merge go to the child; the
//   caller reports each one with note_guest_write(), and blocks already merged are marked
//   dirty and merged again before the merge can finish. Those marks live in memory only, so a
//   live merge records resume point 0: after a crash it restarts from the beginning
//   (idempotent), an offline merge resumes where it stopped.
// - The merge is complete when every block has been merged after its last guest write; the
//   parent is flushed and the record says "complete". From then on the parent alone holds
//   the chain's data and the child can be discarded (a running VM switches to the parent
//   between two guest writes, with finish()).
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/allocator.hpp"
#include "vhdx/buffer.hpp"
#include "vhdx/disk.hpp"
#include "vhdx/ops/progress.hpp"

#include <stdint.h>

namespace halcyon::vhdx::ops {

// The user metadata item a merge keeps in the child.
inline constexpr Guid kMergeRecordItem{
    0x5f0b8a3e, 0x6c1d, 0x4e7a, {0x9b, 0x42, 0x1a, 0x6d, 0x3c, 0x58, 0x7e, 0x91}};

struct MergeRecord {
    uint32_t magic; // kMergeRecordMagic
    uint32_t version;
    uint32_t flags; // kMergeLive, kMergeComplete
    uint32_t reserved;
    Guid parent_disk_id;
    uint64_t resume_block; // child block index; every block below it is merged
};
static_assert(sizeof(MergeRecord) == 40);
inline constexpr uint32_t kMergeRecordMagic = 0x4752454d; // "MERG"
inline constexpr uint32_t kMergeLive = 1u << 0;
inline constexpr uint32_t kMergeComplete = 1u << 1;

// Reads the merge record of a child, if it has one (returns false when it has none).
[[nodiscard]] ErrorOr<bool> read_merge_record(const Disk& child, MergeRecord& out);

struct MergeOptions {
    uint32_t chunk_size = 1024 * 1024; // bytes compared/copied at a time
    // Bytes merged between two resume-point records (each costs a parent flush and a child
    // log entry).
    uint64_t checkpoint_bytes = 256ull * 1024 * 1024;
    bool live = false; // a VM keeps writing to the child (see note_guest_write)
    Progress* progress = nullptr;
};

struct MergeStats {
    uint64_t blocks_merged = 0;
    uint64_t bytes_written = 0;   // into the parent
    uint64_t bytes_unchanged = 0; // compared equal, not written
};

class Merger {
public:
    // child: the differencing disk, open writable (its parent chain is open read-only inside
    // it). parent: the same file as child.parent(), opened separately and writable. Both stay
    // owned by the caller and must outlive the Merger.
    [[nodiscard]] static ErrorOr<Merger> start(Disk& child, Disk& parent, Allocator& allocator,
                                               const MergeOptions& options);

    // Merges the next block that needs it. Returns false once nothing is left.
    [[nodiscard]] ErrorOr<bool> step();
    // A guest wrote [offset, offset + length) of the child: blocks already merged there must
    // be merged again.
    void note_guest_write(uint64_t offset, uint64_t length);
    // Steps until nothing is left, then flushes the parent and marks the record complete.
    [[nodiscard]] ErrorOr<void> run();
    // Marks the record complete after the last step (run() does this).
    [[nodiscard]] ErrorOr<void> finish();

    [[nodiscard]] const MergeStats& stats() const { return stats_; }

private:
    Merger() = default;
    [[nodiscard]] ErrorOr<void> merge_block(uint64_t block);
    [[nodiscard]] ErrorOr<void> write_record(uint64_t resume_block, uint32_t flags);
    [[nodiscard]] ErrorOr<void> checkpoint();
    [[nodiscard]] uint64_t first_dirty() const;

    Disk* child_ = nullptr;
    Disk* parent_ = nullptr;
    Allocator* allocator_ = nullptr;
    MergeOptions options_{};
    Buffer child_chunk_;
    Buffer parent_chunk_;
    Buffer dirty_; // one bit per child block: merged, then written again by the guest
    uint64_t dirty_count_ = 0;
    uint64_t blocks_ = 0;
    uint64_t block_size_ = 0;
    uint64_t virtual_size_ = 0;
    uint64_t cursor_ = 0;
    uint64_t since_checkpoint_ = 0;
    Guid parent_disk_id_{};
    MergeStats stats_{};
};

} // namespace halcyon::vhdx::ops
