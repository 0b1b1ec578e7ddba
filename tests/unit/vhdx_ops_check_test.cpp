// vhdx/ops/check: every kind of damage is found, named and classified; repair fixes what is
// repairable and refuses what is not.
#include "vhdx/format.hpp"
#include "vhdx/ops/check.hpp"
#include "vhdx_ops_test_util.hpp"

#include <string>

using namespace vhdx_ops_test;
using namespace halcyon::vhdx::ops;

namespace {

constexpr uint64_t kSize = 8 * kMiB;

class Collect final : public CheckSink {
public:
    void problem(const Problem& p) override { problems.push_back(p); }
    bool mentions(const std::string& text, Severity severity) const {
        for (const Problem& p : problems)
            if (p.severity == severity && std::string(p.message).find(text) != std::string::npos)
                return true;
        return false;
    }
    std::string dump() const {
        std::string out;
        for (const Problem& p : problems)
            out += std::string(p.message) + "\n";
        return out;
    }
    std::vector<Problem> problems;
};

struct Fixture {
    Env env;
    MemoryBlockIo io;
    std::vector<uint8_t> model = std::vector<uint8_t>(kSize, 0);
    DiskInfo info{};

    explicit Fixture(DiskType type = DiskType::dynamic) {
        Disk* disk = env.create(io, type, kSize);
        write_both(disk, model, 4096, random_bytes(1, 3 * kMiB));
        info = disk->info();
        must(disk->close());
    }
    CheckResult check(Collect& sink) { return must(check_file(io, env.allocator, sink)); }
    uint64_t& bat_entry(uint64_t index) {
        return *reinterpret_cast<uint64_t*>(io.image().data() + info.bat_offset + index * 8);
    }
};

TEST(VhdxOpsCheck, FreshDisksOfEveryKindAreClean) {
    for (DiskType type : {DiskType::dynamic, DiskType::fixed}) {
        Fixture f(type);
        Collect sink;
        CheckResult result = f.check(sink);
        EXPECT_EQ(result.verdict, Verdict::clean) << sink.dump();
        EXPECT_TRUE(sink.problems.empty()) << sink.dump();
        EXPECT_EQ(result.payload_blocks, kSize / kMiB);
    }
}

TEST(VhdxOpsCheck, DamagedHeaderCopyIsRepairable) {
    Fixture f;
    f.io.image()[format::kHeaderOffset[0] + 100] ^= 0xff;
    Collect sink;
    CheckResult result = f.check(sink);
    EXPECT_EQ(result.verdict, Verdict::repairable) << sink.dump();
    EXPECT_TRUE(sink.mentions("header 1: bad CRC-32C", Severity::repairable)) << sink.dump();
    EXPECT_EQ(sink.problems[0].file_offset, format::kHeaderOffset[0] + 4);
    Collect before, after;
    RepairActions actions;
    CheckResult repaired = must(
        repair_file(f.io, f.env.allocator, f.env.random, &f.env.resolver, before, after, actions));
    EXPECT_TRUE(actions.rewrote_header);
    EXPECT_EQ(repaired.verdict, Verdict::clean) << after.dump();
    Disk* disk = f.env.open(f.io, true);
    EXPECT_EQ(read_all(disk), f.model);
    must(disk->close());
}

TEST(VhdxOpsCheck, BothHeadersBadIsDamagedAndRepairRefuses) {
    Fixture f;
    f.io.image()[format::kHeaderOffset[0]] = 'x';
    f.io.image()[format::kHeaderOffset[1] + 200] ^= 1;
    Collect sink;
    EXPECT_EQ(f.check(sink).verdict, Verdict::damaged);
    EXPECT_TRUE(sink.mentions("header 1: bad signature", Severity::damaged)) << sink.dump();
    EXPECT_TRUE(sink.mentions("header 2: bad CRC-32C", Severity::damaged)) << sink.dump();
    Collect before, after;
    RepairActions actions;
    CheckResult result = must(
        repair_file(f.io, f.env.allocator, f.env.random, &f.env.resolver, before, after, actions));
    EXPECT_EQ(result.verdict, Verdict::damaged);
    EXPECT_FALSE(actions.rewrote_header || actions.replayed_log);
}

TEST(VhdxOpsCheck, DamagedRegionTableCopyIsRepairable) {
    Fixture f;
    f.io.image()[format::kRegionTableOffset[1] + 40] ^= 0x10;
    Collect sink;
    EXPECT_EQ(f.check(sink).verdict, Verdict::repairable);
    EXPECT_TRUE(sink.mentions("region table 2: bad CRC-32C", Severity::repairable)) << sink.dump();
    Collect before, after;
    RepairActions actions;
    EXPECT_EQ(must(repair_file(f.io, f.env.allocator, f.env.random, &f.env.resolver, before, after,
                               actions))
                  .verdict,
              Verdict::clean)
        << after.dump();
    EXPECT_TRUE(actions.rewrote_region_table);
}

TEST(VhdxOpsCheck, NotAVhdxIsDamaged) {
    Fixture f;
    f.io.image()[0] = 'X';
    Collect sink;
    EXPECT_EQ(f.check(sink).verdict, Verdict::damaged);
    EXPECT_TRUE(sink.mentions("file identifier", Severity::damaged));
    MemoryBlockIo tiny(std::vector<uint8_t>(4096, 0));
    Collect sink2;
    EXPECT_EQ(must(check_file(tiny, f.env.allocator, sink2)).verdict, Verdict::damaged);
    EXPECT_TRUE(sink2.mentions("too small", Severity::damaged));
}

TEST(VhdxOpsCheck, BatEntryOutsideTheFileIsDamagedWithItsIndex) {
    Fixture f;
    f.bat_entry(0) = (uint64_t(1) << 30 << 0) | 6; // block 0 at 1 TiB (offset in MiB << 20)
    f.bat_entry(0) = (uint64_t(1024 * 1024) << 20) | 6;
    Collect sink;
    EXPECT_EQ(f.check(sink).verdict, Verdict::damaged);
    ASSERT_TRUE(sink.mentions("payload block outside the file", Severity::damaged)) << sink.dump();
    EXPECT_EQ(sink.problems.back().index, 0u);
    EXPECT_EQ(sink.problems.back().file_offset, f.info.bat_offset);
}

TEST(VhdxOpsCheck, OverlappingBlocksAndRegionsAreDamaged) {
    Fixture f;
    // A second block pointing at block 0's data.
    f.bat_entry(1) = f.bat_entry(0);
    Collect sink;
    EXPECT_EQ(f.check(sink).verdict, Verdict::damaged);
    EXPECT_TRUE(sink.mentions("overlaps a region or another block", Severity::damaged))
        << sink.dump();
    Fixture g;
    g.bat_entry(0) = (g.info.metadata_offset) | 6; // on top of the metadata region
    Collect sink2;
    EXPECT_EQ(g.check(sink2).verdict, Verdict::damaged);
    EXPECT_TRUE(sink2.mentions("overlaps", Severity::damaged)) << sink2.dump();
}

TEST(VhdxOpsCheck, InvalidBlockStatesAreDamaged) {
    Fixture f;
    f.bat_entry(0) = (f.bat_entry(0) & ~7ull) | 4; // state 4 does not exist
    f.bat_entry(1) = (f.bat_entry(1) & ~7ull) | 7; // partially present without a parent
    Collect sink;
    EXPECT_EQ(f.check(sink).verdict, Verdict::damaged);
    EXPECT_TRUE(sink.mentions("invalid state", Severity::damaged)) << sink.dump();
    EXPECT_TRUE(
        sink.mentions("partially present block on a disk without a parent", Severity::damaged))
        << sink.dump();
}

TEST(VhdxOpsCheck, BadMetadataValuesAreDamaged) {
    Fixture f;
    // Find the File Parameters item through the table and break its block size.
    uint8_t* region = f.io.image().data() + f.info.metadata_offset;
    auto* entries = reinterpret_cast<format::MetadataTableEntry*>(region + 32);
    auto* header = reinterpret_cast<format::MetadataTableHeader*>(region);
    bool patched = false;
    for (uint32_t i = 0; i < header->entry_count; ++i) {
        if (entries[i].item_id == format::kFileParametersItem) {
            *reinterpret_cast<uint32_t*>(region + entries[i].offset) = 3 * kMiB;
            patched = true;
        }
    }
    ASSERT_TRUE(patched);
    Collect sink;
    EXPECT_EQ(f.check(sink).verdict, Verdict::damaged);
    EXPECT_TRUE(sink.mentions("block size not a power of two", Severity::damaged)) << sink.dump();

    Fixture g;
    region = g.io.image().data() + g.info.metadata_offset;
    entries = reinterpret_cast<format::MetadataTableEntry*>(region + 32);
    entries[1].offset = g.info.metadata_length; // item past the region
    Collect sink2;
    EXPECT_EQ(g.check(sink2).verdict, Verdict::damaged);
    EXPECT_TRUE(sink2.mentions("item outside the metadata region", Severity::damaged))
        << sink2.dump();
    EXPECT_EQ(sink2.problems[0].index, 1u);
}

// A crash after the log entry of an allocation was written but before it was applied leaves
// a dirty log: check calls that repairable, repair replays it, and the data is there.
TEST(VhdxOpsCheck, DirtyLogIsRepairableAndRepairReplaysIt) {
    bool saw_dirty = false;
    for (int64_t cut = 1; cut < 40 && !saw_dirty; ++cut) {
        Env env;
        MemoryBlockIo io;
        Disk* disk = env.create(io, DiskType::dynamic, kSize, kMiB);
        must(disk->flush());
        io.cut_power_after(cut);
        auto data = random_bytes(3, 4096);
        bool wrote = !disk->write(2 * kMiB, data).is_error() && !disk->flush().is_error();
        disk->abandon();
        MemoryBlockIo crashed(io.crash_image());
        Collect sink;
        CheckResult result = must(check_file(crashed, env.allocator, sink));
        ASSERT_NE(result.verdict, Verdict::damaged) << "cut " << cut << "\n" << sink.dump();
        if (!result.log_dirty)
            continue;
        saw_dirty = true;
        EXPECT_EQ(result.verdict, Verdict::repairable);
        EXPECT_TRUE(sink.mentions("log:", Severity::repairable)) << sink.dump();
        Collect before, after;
        RepairActions actions;
        CheckResult repaired = must(
            repair_file(crashed, env.allocator, env.random, &env.resolver, before, after, actions));
        EXPECT_TRUE(actions.replayed_log);
        EXPECT_EQ(repaired.verdict, Verdict::clean) << after.dump();
        Disk* reopened = env.open(crashed, true);
        std::vector<uint8_t> back(4096);
        must(reopened->read(2 * kMiB, back));
        if (wrote)
            EXPECT_EQ(back, data);
        must(reopened->close());
    }
    EXPECT_TRUE(saw_dirty) << "no cut point left a dirty log";
}

TEST(VhdxOpsCheck, PartiallyPresentBlockWithoutSectorBitmapIsDamaged) {
    Env env;
    MemoryBlockIo base_io, child_io;
    env.resolver.add("base.vhdx", &base_io);
    must(env.create(base_io, DiskType::dynamic, kSize)->close());
    Disk* child = env.create(child_io, DiskType::differencing, 0, kMiB, 512, "base.vhdx");
    must(child->write(512, random_bytes(4, 512)));
    DiskInfo info = child->info();
    must(child->close());
    Collect clean_sink;
    EXPECT_EQ(must(check_file(child_io, env.allocator, clean_sink)).verdict, Verdict::clean)
        << clean_sink.dump();
    // The chunk's sector bitmap entry follows chunk_ratio payload entries.
    uint64_t& bitmap_entry = *reinterpret_cast<uint64_t*>(child_io.image().data() +
                                                          info.bat_offset + info.chunk_ratio * 8);
    ASSERT_EQ(bitmap_entry & 7, 6u);
    bitmap_entry = 0;
    Collect sink;
    EXPECT_EQ(must(check_file(child_io, env.allocator, sink)).verdict, Verdict::damaged);
    EXPECT_TRUE(sink.mentions("partially present blocks but no sector bitmap", Severity::damaged))
        << sink.dump();
}

} // namespace
