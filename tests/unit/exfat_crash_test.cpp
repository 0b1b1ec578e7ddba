// exFAT: power cuts. A scenario of mkdir, growing writes (contiguous, then converted to a FAT
// chain), a move to another directory, truncate, remove and a multi-sector entry set runs on a
// device whose power is cut at every write/flush in turn; the medium is rebuilt under each crash
// policy (pending writes lost, kept, or a random subset sector by sector). Every crash image
// must mount (repairing what a cut may leave), check clean, and hold the data that was durable
// before the cut. HALCYON_EXFAT_CRASH_SEEDS=N runs N random subsets per cut (default 2).
#include "exfat_test_support.hpp"

#include <cstdlib>

namespace halcyon::exfat::testing {
namespace {

const std::string kLongName = std::string(230, 'L') + ".cfg"; // a set spanning two sectors
const std::string kMoved = "moved-to-root-with-a-long-name.txt";

std::vector<uint8_t> expected_disk() {
    auto a = pattern(100, 20000);
    auto b = pattern(101, 15000);
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// Runs the scenario until it finishes or the power goes; records the operation count at the
// end of each completed step.
void scenario(Volume& volume, MemorySectorDevice& device, std::vector<uint64_t>& steps) {
    auto step = [&](ErrorOr<void> result) {
        if (result.is_error())
            return false;
        steps.push_back(device.operations());
        return true;
    };
    auto disk_data = expected_disk();
    if (!step(volume.create_directory("vm")))
        return;
    auto opened = volume.open("vm/disk.bin", OpenMode::read_write, Disposition::create_new);
    if (opened.is_error())
        return;
    File disk = opened.release_value();
    auto write_a = [&]() -> ErrorOr<void> {
        for (size_t at = 0; at < 20000; at += 3000)
            TRY(disk.write(at, {disk_data.data() + at, std::min<size_t>(3000, 20000 - at)}));
        return disk.flush();
    };
    if (!step(write_a()))
        return;
    auto write_other = [&]() -> ErrorOr<void> {
        File other = TRY(volume.open("vm/other", OpenMode::read_write, Disposition::create_new));
        TRY(other.write(0, pattern(102, 3000)));
        return other.close();
    };
    if (!step(write_other()))
        return;
    auto write_b = [&]() -> ErrorOr<void> {
        TRY(disk.write(20000, {disk_data.data() + 20000, 15000}));
        return disk.flush();
    };
    if (!step(write_b()))
        return;
    if (!step(volume.rename("vm/other", kMoved)))
        return;
    if (!step(disk.set_size(7000)))
        return;
    if (!step(disk.close()))
        return;
    if (!step(volume.remove(kMoved)))
        return;
    auto write_long = [&]() -> ErrorOr<void> {
        File file =
            TRY(volume.open("vm/" + kLongName, OpenMode::read_write, Disposition::create_new));
        TRY(file.write(0, pattern(103, 100)));
        return file.close();
    };
    if (!step(write_long()))
        return;
    if (!step(volume.remove("vm/" + kLongName)))
        return;
    if (!step(volume.sync()))
        return;
    (void)step(volume.unmount());
}

// Contents must be a valid prefix of `expected` up to ValidDataLength and zero after it.
void expect_consistent(Volume& volume, const std::string& path,
                       const std::vector<uint8_t>& expected, uint64_t& valid) {
    EntryInfo info;
    must_ok(volume.stat(path, info));
    valid = info.valid_size;
    auto content = read_file(volume, path);
    ASSERT_EQ(content.size(), info.size);
    ASSERT_LE(info.valid_size, expected.size());
    EXPECT_TRUE(std::equal(content.begin(), content.begin() + info.valid_size, expected.begin()))
        << path << " holds data it never had";
    EXPECT_TRUE(std::all_of(content.begin() + info.valid_size, content.end(),
                            [](uint8_t b) { return b == 0; }));
}

bool exists(Volume& volume, const std::string& path) {
    EntryInfo info;
    return !volume.stat(path, info).is_error();
}

void verify(const std::vector<uint8_t>& crashed, size_t completed) {
    MemorySectorDevice device(512, crashed);
    vhdx::testing::HeapAllocator allocator;
    FixedClock clock;
    {
        Volume volume(device, allocator, clock);
        auto mounted = volume.mount();
        ASSERT_FALSE(mounted.is_error()) << mounted.error().message();
        auto report = must(volume.check());
        EXPECT_EQ(report.leaked_clusters, 0u);
        EXPECT_EQ(report.excess_chains, 0u);
        EXPECT_EQ(report.stray_entries, 0u);
        EXPECT_EQ(report.duplicate_entries, 0u);

        if (completed >= 1)
            EXPECT_TRUE(exists(volume, "vm"));
        uint64_t valid = 0;
        if (exists(volume, "vm/disk.bin")) {
            expect_consistent(volume, "vm/disk.bin", expected_disk(), valid);
            EntryInfo info;
            must_ok(volume.stat("vm/disk.bin", info));
            // `completed` steps are durable; the next one may have landed, or not.
            if (completed >= 2 && completed < 5)
                EXPECT_GE(valid, 20000u);
            if (completed == 4)
                EXPECT_EQ(valid, 35000u);
            if (completed == 5)
                EXPECT_TRUE(valid == 35000u || info.size == 7000u);
            if (completed >= 6)
                EXPECT_EQ(info.size, 7000u);
        } else {
            EXPECT_LT(completed, 2u) << "the flushed file vanished";
        }
        bool other = exists(volume, "vm/other");
        bool moved = exists(volume, kMoved);
        EXPECT_FALSE(other && moved) << "two names for one file after repair";
        for (const std::string& path : {std::string("vm/other"), kMoved})
            if (exists(volume, path))
                expect_consistent(volume, path, pattern(102, 3000), valid);
        if (completed == 3)
            EXPECT_TRUE(other);
        if (completed == 4) // the move was under way: one name or the other, never none
            EXPECT_TRUE(other || moved);
        if (completed >= 5 && completed < 7)
            EXPECT_TRUE(moved && !other);
        if (completed == 7)
            EXPECT_FALSE(other);
        if (completed >= 8)
            EXPECT_FALSE(moved || other);
        if (completed >= 10)
            EXPECT_FALSE(exists(volume, "vm/" + kLongName));
        // The repaired volume takes new work.
        write_file(volume, "after-crash", pattern(104, 5000));
        must_ok(volume.unmount());
    }
    Volume again(device, allocator, clock);
    must_ok(again.mount(MountOptions{true, 4, 8}));
    EXPECT_FALSE(again.info().was_dirty);
    EXPECT_EQ(again.info().check.leaked_clusters, 0u);
    EXPECT_EQ(read_file(again, "after-crash"), pattern(104, 5000));
}

TEST(ExfatCrash, EveryCutUnderEveryPolicyLeavesAConsistentVolume) {
    Fixture base(2 << 20, 512, FormatOptions{1024, "", 1, 0});
    const std::vector<uint8_t> formatted = base.device.image();

    // Dry run: how many operations, and where each step ends.
    std::vector<uint64_t> steps;
    {
        MemorySectorDevice device(512, formatted);
        Volume volume(device, base.allocator, base.clock);
        must_ok(volume.mount());
        scenario(volume, device, steps);
    }
    ASSERT_EQ(steps.size(), 12u) << "the scenario itself failed";
    uint64_t total = steps.back();
    int seeds = 2;
    if (const char* env = std::getenv("HALCYON_EXFAT_CRASH_SEEDS"))
        seeds = std::atoi(env);

    uint64_t images = 0;
    for (uint64_t cut = 0; cut < total; ++cut) {
        MemorySectorDevice device(512, formatted);
        std::vector<uint64_t> reached;
        {
            Volume volume(device, base.allocator, base.clock);
            must_ok(volume.mount());
            device.cut_at(static_cast<int64_t>(cut));
            scenario(volume, device, reached);
        }
        ASSERT_TRUE(device.dead());
        size_t completed = reached.size();
        for (CrashPolicy policy : kAllCrashPolicies) {
            int runs = policy == CrashPolicy::random_subset ? seeds : 1;
            for (int seed = 0; seed < runs; ++seed) {
                SCOPED_TRACE(::testing::Message() << "cut at " << cut << " of " << total << ", "
                                                  << crash_policy_name(policy) << " seed " << seed
                                                  << ", steps done " << completed);
                verify(device.crash_image(policy, cut * 31 + seed), completed);
                ++images;
                if (HasFatalFailure() || HasNonfatalFailure())
                    return;
            }
        }
    }
    EXPECT_GT(images, 3 * total);
}

} // namespace
} // namespace halcyon::exfat::testing
