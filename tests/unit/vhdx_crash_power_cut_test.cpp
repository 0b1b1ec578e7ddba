// Power cuts at every write, flush and size change of each scenario (vhdx/testing/
// fault_io_scenario_list.hpp), under four cache behaviours (unflushed writes lost, kept, torn,
// random subset in random order). Each crashed image must reopen (replaying the log), pass the
// structural check, show every acknowledged byte and nothing that was never written, keep user
// metadata atomic, and accept new writes. HALCYON_VHDX_CRASH_LONG=1 adds 4096-byte sectors,
// longer scenarios and more random cache states per cut.
#include "vhdx/testing/fault_io_scenario_list.hpp"

#include <chrono>
#include <cstdlib>
#include <gtest/gtest.h>

using namespace halcyon::vhdx;
using namespace halcyon::vhdx::testing;

namespace {

bool long_mode() {
    const char* value = std::getenv("HALCYON_VHDX_CRASH_LONG");
    return value != nullptr && value[0] == '1';
}

class VhdxCrash : public ::testing::TestWithParam<Scenario> {};

TEST_P(VhdxCrash, EveryCutPointRecovers) {
    const Scenario& sc = GetParam();
    auto start = std::chrono::steady_clock::now();
    ScenarioWorld world;
    std::string e = build_scenario_base(world, sc);
    ASSERT_EQ(e, "");
    CutStats stats;
    e = run_scenario_cuts(world, sc, long_mode() ? 8 : 1, stats, {}, 0,
                          long_mode() ? 1 : sc.cut_stride);
    EXPECT_EQ(e, "") << sc.name;
    EXPECT_GT(stats.operations, 10u) << "scenario too short to mean anything";
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    std::printf("%s: %llu cut points, %llu crashed images, %lld ms\n", sc.name.c_str(),
                static_cast<unsigned long long>(stats.operations),
                static_cast<unsigned long long>(stats.images), static_cast<long long>(ms));
}

INSTANTIATE_TEST_SUITE_P(Scenarios, VhdxCrash, ::testing::ValuesIn(crash_scenarios(long_mode())),
                         [](const ::testing::TestParamInfo<Scenario>& info) {
                             return info.param.name;
                         });

// The fault model itself: what was flushed survives every policy, and a torn write lands only
// in whole 512-byte sectors of its own data.
TEST(VhdxPowerCutIo, FlushedDataSurvivesAndTornWritesAreSectorGranular) {
    PowerCutBlockIo io;
    std::vector<uint8_t> a(4096, 0xAA), b(4096, 0xBB);
    ASSERT_FALSE(io.write(0, a).is_error());
    ASSERT_FALSE(io.flush().is_error());
    io.cut_at(static_cast<int64_t>(io.operations()) + 1);
    ASSERT_FALSE(io.write(0, b).is_error());
    ASSERT_TRUE(io.write(8192, b).is_error()); // the cut
    ASSERT_TRUE(io.dead());
    ASSERT_TRUE(io.flush().is_error());
    EXPECT_EQ(io.crash_image(CrashPolicy::lose_pending, 1), std::vector<uint8_t>(a));
    auto kept = io.crash_image(CrashPolicy::keep_pending, 1);
    ASSERT_EQ(kept.size(), 12288u);
    EXPECT_TRUE(std::equal(b.begin(), b.end(), kept.begin()));
    bool saw_partial = false;
    for (uint64_t seed = 0; seed < 64; ++seed) {
        auto image = io.crash_image(CrashPolicy::random_subset, seed);
        for (size_t sector = 0; sector < image.size() / 512; ++sector) {
            uint8_t first = image[sector * 512];
            for (size_t i = 1; i < 512; ++i)
                ASSERT_EQ(image[sector * 512 + i], first) << "a sector mixes two writes";
            if (sector < 8)
                ASSERT_TRUE(first == 0xAA || first == 0xBB);
        }
        int bb = 0;
        for (size_t sector = 0; sector < 8; ++sector)
            bb += image[sector * 512] == 0xBB;
        saw_partial = saw_partial || (bb > 0 && bb < 8);
    }
    EXPECT_TRUE(saw_partial) << "random_subset never tore a write";
}

} // namespace
