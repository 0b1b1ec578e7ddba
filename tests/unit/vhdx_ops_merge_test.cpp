// vhdx/ops/merge: a differencing child merged into its parent range by range, offline, live
// (guest writes during the merge) and across power cuts.
#include "vhdx/ops/merge.hpp"
#include "vhdx_ops_test_util.hpp"

using namespace vhdx_ops_test;
using namespace halcyon::vhdx::ops;

namespace {

constexpr uint64_t kSize = 16 * kMiB;

// base (parent, 4 MiB blocks) with data; child (1 MiB blocks) overwriting parts of it,
// partially (sector-sized writes) and wholly, plus a trimmed MiB hiding parent data.
struct Chain {
    Env env;
    MemoryBlockIo base_io, child_io;
    std::vector<uint8_t> parent_model = std::vector<uint8_t>(kSize, 0);
    std::vector<uint8_t> model = std::vector<uint8_t>(kSize, 0);

    Chain() {
        env.resolver.add("base.vhdx", &base_io);
        Disk* base = env.create(base_io, DiskType::dynamic, kSize, 4 * kMiB);
        write_both(base, model, 0, random_bytes(1, 10 * kMiB));
        must(base->close());
        parent_model = model;
        Disk* child = env.create(child_io, DiskType::differencing, 0, kMiB, 512, "base.vhdx");
        write_both(child, model, 512, random_bytes(2, 1024));              // partial block
        write_both(child, model, 3 * kMiB, random_bytes(3, kMiB));         // whole block
        write_both(child, model, 12 * kMiB + 4096, random_bytes(4, 8192)); // past parent data
        must(child->trim(5 * kMiB, kMiB));                                 // zero over parent data
        std::memset(model.data() + 5 * kMiB, 0, kMiB);
        must(child->close());
    }
};

TEST(VhdxOpsMerge, MergedParentReadsAsTheChainDid) {
    Chain chain;
    Disk* child = chain.env.open(chain.child_io);
    Disk* parent = chain.env.open(chain.base_io);
    EXPECT_EQ(read_all(child), chain.model);
    Merger merger = must(Merger::start(*child, *parent, chain.env.allocator, {}));
    must(merger.run());
    EXPECT_EQ(read_all(parent), chain.model);
    EXPECT_EQ(read_all(child), chain.model); // the child still reads the same
    EXPECT_EQ(merger.stats().blocks_merged, 4u);
    MergeRecord record{};
    EXPECT_TRUE(must(read_merge_record(*child, record)));
    EXPECT_TRUE(record.flags & kMergeComplete);
    must(child->close());
    must(parent->close());
    // The parent alone, reopened, holds the chain's data.
    Disk* reopened = chain.env.open(chain.base_io, true);
    EXPECT_EQ(read_all(reopened), chain.model);
    must(reopened->close());
}

TEST(VhdxOpsMerge, LiveGuestWritesDuringTheMergeAreMergedToo) {
    Chain chain;
    Disk* child = chain.env.open(chain.child_io);
    Disk* parent = chain.env.open(chain.base_io);
    MergeOptions options;
    options.live = true;
    Merger merger = must(Merger::start(*child, *parent, chain.env.allocator, options));
    // Merge the first few blocks, then the guest writes behind and ahead of the cursor.
    for (int i = 0; i < 6; ++i)
        ASSERT_TRUE(must(merger.step()));
    write_both(child, chain.model, 1 * kMiB + 1024, random_bytes(7, 4096)); // behind
    merger.note_guest_write(1 * kMiB + 1024, 4096);
    write_both(child, chain.model, 14 * kMiB, random_bytes(8, 4096)); // ahead
    merger.note_guest_write(14 * kMiB, 4096);
    EXPECT_TRUE(merger.finish().is_error()); // not done yet
    must(merger.run());
    EXPECT_EQ(read_all(parent), chain.model);
    MergeRecord record{};
    ASSERT_TRUE(must(read_merge_record(*child, record)));
    EXPECT_EQ(record.resume_block, 0u); // live merges restart from 0 after a crash
    must(child->close());
    must(parent->close());
}

TEST(VhdxOpsMerge, RefusesAParentThatIsNotTheChildsParent) {
    Chain chain;
    MemoryBlockIo other_io;
    Disk* other = chain.env.create(other_io, DiskType::dynamic, kSize);
    Disk* child = chain.env.open(chain.child_io);
    EXPECT_TRUE(Merger::start(*child, *other, chain.env.allocator, {}).is_error());
    EXPECT_TRUE(Merger::start(*other, *other, chain.env.allocator, {}).is_error());
    must(child->close());
    must(other->close());
}

// A power cut at every write/flush of the merge (on the parent's file): afterwards the chain
// still reads the same data (with the merge record vouching for the changed parent), and
// running the merge again finishes it.
TEST(VhdxOpsMerge, PowerCutAtAnyPointKeepsTheChainAndResumes) {
    uint64_t total_operations;
    {
        Chain chain;
        Disk* child = chain.env.open(chain.child_io);
        Disk* parent = chain.env.open(chain.base_io);
        uint64_t before = chain.base_io.writes() + chain.base_io.flushes();
        Merger merger = must(Merger::start(*child, *parent, chain.env.allocator, {}));
        must(merger.run());
        total_operations = chain.base_io.writes() + chain.base_io.flushes() - before;
        must(parent->close());
        must(child->close());
    }
    ASSERT_GT(total_operations, 4u);
    for (uint64_t cut = 0; cut < total_operations; cut += 1 + total_operations / 12) {
        SCOPED_TRACE("cut after " + std::to_string(cut) + " operations");
        Chain chain;
        Disk* child = chain.env.open(chain.child_io);
        Disk* parent = chain.env.open(chain.base_io);
        MergeOptions options;
        options.checkpoint_bytes = 2 * kMiB; // several resume records
        Merger merger = must(Merger::start(*child, *parent, chain.env.allocator, options));
        chain.base_io.cut_power_after(static_cast<int64_t>(cut), cut % 3);
        auto ran = merger.run();
        EXPECT_TRUE(ran.is_error());
        parent->abandon();
        child->abandon();
        // Reboot: the parent file is what reached its medium; the child file was not cut but
        // also loses what it had not flushed.
        MemoryBlockIo base_after(chain.base_io.crash_image());
        MemoryBlockIo child_after(chain.child_io.crash_image());
        Env env;
        env.resolver.add("base.vhdx", &base_after);
        // A cut inside the parent's log write leaves its log dirty: the parent is replayed
        // by a writable open first (what `vhdx merge` does when it resumes).
        must(env.open(base_after)->close());
        OpenOptions strict;
        strict.random = &env.random;
        strict.parent_resolver = &env.resolver;
        auto opened = Disk::open(child_after, env.allocator, strict);
        Disk* reopened;
        if (opened.is_error()) {
            // The parent changed (new DataWriteGuid): allowed only with a merge record.
            reopened = env.open(child_after, false, true);
            MergeRecord record{};
            ASSERT_TRUE(must(read_merge_record(*reopened, record)));
        } else {
            reopened = opened.release_value();
        }
        EXPECT_EQ(read_all(reopened), chain.model);
        Disk* parent_again = env.open(base_after);
        Merger resumed = must(Merger::start(*reopened, *parent_again, env.allocator, {}));
        must(resumed.run());
        EXPECT_EQ(read_all(parent_again), chain.model);
        must(parent_again->close());
        must(reopened->close());
    }
}

} // namespace
