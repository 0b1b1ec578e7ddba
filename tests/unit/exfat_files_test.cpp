// exFAT: files and directories — create, read, write, grow, truncate, rename, remove, list.
#include "exfat_test_support.hpp"

#include <cstring>

namespace halcyon::exfat::testing {
namespace {

void expect_clean(Volume& volume) {
    auto report = volume.check();
    ASSERT_FALSE(report.is_error()) << report.error().message();
    EXPECT_EQ(report.value().leaked_clusters, 0u);
    EXPECT_EQ(report.value().excess_chains, 0u);
    EXPECT_EQ(report.value().stray_entries, 0u);
}

TEST(ExfatFiles, WriteReadRoundTripAcrossRemount) {
    Fixture fx;
    auto volume = fx.mount();
    auto data = pattern(10, 300000);
    write_file(*volume, "data.bin", data, 7001); // odd chunks: partial sectors everywhere
    EXPECT_EQ(read_file(*volume, "data.bin"), data);
    EXFAT_ASSERT_OK(volume->unmount());
    auto again = fx.mount();
    EXPECT_EQ(read_file(*again, "/data.bin"), data);
    EntryInfo info;
    EXFAT_ASSERT_OK(again->stat("data.bin", info));
    EXPECT_EQ(info.size, data.size());
    EXPECT_EQ(info.valid_size, data.size());
    EXPECT_TRUE(info.contiguous);
    EXPECT_FALSE(info.directory);
    EXPECT_EQ(info.modified, fx.clock.time);
    EXPECT_EQ(again->info().check.files, 1u);
    expect_clean(*again);
}

TEST(ExfatFiles, NamesAreCaseInsensitiveAndUnicode) {
    Fixture fx;
    auto volume = fx.mount();
    write_file(*volume, "grüße-ελληνικα-кириллица.txt", pattern(1, 10));
    write_file(*volume, "rocket 🚀.bin", pattern(2, 20));
    EXPECT_EQ(read_file(*volume, "GRÜßE-ΕΛΛΗΝΙΚΑ-КИРИЛЛИЦА.TXT"), pattern(1, 10));
    EXPECT_EQ(read_file(*volume, "ROCKET 🚀.BIN"), pattern(2, 20));
    auto names = list(*volume, "/");
    EXPECT_TRUE(names.count("grüße-ελληνικα-кириллица.txt"));
    EXPECT_TRUE(names.count("rocket 🚀.bin"));
    auto clash = volume->open("Rocket 🚀.BIN", OpenMode::read_write, Disposition::create_new);
    ASSERT_TRUE(clash.is_error());
    EXPECT_EQ(clash.error().code(), ErrorCode::already_exists);
}

TEST(ExfatFiles, InvalidNamesAreRefused) {
    Fixture fx;
    auto volume = fx.mount();
    for (const char* bad :
         {"a:b", "a*b", "x?", "pipe|", "back\\slash", "quote\"", "<", ">", ".", "..", "tab\there"})
        EXPECT_TRUE(volume->create_directory(bad).is_error()) << bad;
    EXPECT_TRUE(volume->create_directory(std::string(256, 'n')).is_error());
    EXPECT_TRUE(volume->create_directory(std::string("\xC3\x28")).is_error()); // bad UTF-8
    EXFAT_ASSERT_OK(volume->create_directory(std::string(255, 'n')));
}

TEST(ExfatFiles, LongestNamesSpanSectors) {
    Fixture fx;
    auto volume = fx.mount();
    // 255 characters: 19 entries, more than a 512-byte sector holds.
    std::string names[3] = {std::string(255, 'a'), std::string(200, 'b') + "é",
                            std::string(240, 'c')};
    for (int i = 0; i < 3; ++i)
        write_file(*volume, names[i], pattern(i, 1000 * (i + 1)));
    EXFAT_ASSERT_OK(volume->unmount());
    auto again = fx.mount();
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(read_file(*again, names[i]), pattern(i, 1000 * (i + 1)));
    EXFAT_ASSERT_OK(again->remove(names[0]));
    EXFAT_ASSERT_OK(again->rename(names[1], "short"));
    EXPECT_EQ(list(*again, "/"), (std::set<std::string>{"short", names[2]}));
    expect_clean(*again);
}

TEST(ExfatFiles, ContiguousUntilBlockedThenFatChain) {
    Fixture fx;
    auto volume = fx.mount();
    auto a = pattern(20, 40960);
    write_file(*volume, "a", a);
    write_file(*volume, "b", pattern(21, 40960)); // right after a: a cannot grow in place
    File file = must(volume->open("a", OpenMode::read_write));
    EXPECT_TRUE(file.contiguous());
    auto more = pattern(22, 50000);
    must_ok(file.write(a.size(), more));
    EXPECT_FALSE(file.contiguous());
    must_ok(file.close());
    a.insert(a.end(), more.begin(), more.end());
    EXPECT_EQ(read_file(*volume, "a"), a);
    EXFAT_ASSERT_OK(volume->unmount());
    auto again = fx.mount();
    EXPECT_EQ(read_file(*again, "a"), a);
    EXPECT_EQ(read_file(*again, "b"), pattern(21, 40960));
    EntryInfo info;
    EXFAT_ASSERT_OK(again->stat("a", info));
    EXPECT_FALSE(info.contiguous);
    // Shrinking a chained file cuts the chain; growing it again reuses space.
    File f = must(again->open("a", OpenMode::read_write));
    must_ok(f.set_size(5000));
    must_ok(f.write(5000, pattern(23, 100000)));
    must_ok(f.close());
    auto expected = std::vector<uint8_t>(a.begin(), a.begin() + 5000);
    auto tail = pattern(23, 100000);
    expected.insert(expected.end(), tail.begin(), tail.end());
    EXPECT_EQ(read_file(*again, "a"), expected);
    expect_clean(*again);
}

TEST(ExfatFiles, BytesPastValidDataLengthReadAsZero) {
    Fixture fx;
    auto volume = fx.mount();
    // Leave old data in free clusters, then reuse them.
    write_file(*volume, "old", pattern(30, 200000));
    EXFAT_ASSERT_OK(volume->remove("old"));
    File file = must(volume->open("new", OpenMode::read_write, Disposition::create_new));
    must_ok(file.set_size(200000));
    EXPECT_EQ(file.size(), 200000u);
    EXPECT_EQ(file.valid_size(), 0u);
    std::vector<uint8_t> buffer(200000, 0xAA);
    EXPECT_EQ(must(file.read(0, buffer)), 200000u);
    EXPECT_EQ(buffer, std::vector<uint8_t>(200000, 0));
    auto data = pattern(31, 1000);
    must_ok(file.write(150000, data));
    EXPECT_EQ(file.valid_size(), 151000u);
    must_ok(file.close());
    EXFAT_ASSERT_OK(volume->unmount());
    auto again = fx.mount();
    auto content = read_file(*again, "new");
    ASSERT_EQ(content.size(), 200000u);
    EXPECT_EQ(std::vector<uint8_t>(content.begin(), content.begin() + 150000),
              std::vector<uint8_t>(150000, 0)); // the gap was zero-filled on disk
    EXPECT_EQ(std::vector<uint8_t>(content.begin() + 150000, content.begin() + 151000), data);
    EXPECT_EQ(std::vector<uint8_t>(content.begin() + 151000, content.end()),
              std::vector<uint8_t>(49000, 0)); // the tail too, at the commit
    EntryInfo info;
    EXFAT_ASSERT_OK(again->stat("new", info));
    // Committed entries are fully valid (exfat_valid_length_test.cpp).
    EXPECT_EQ(info.valid_size, 200000u);
}

TEST(ExfatFiles, TruncateFreesSpace) {
    Fixture fx;
    auto volume = fx.mount();
    uint64_t free_before = volume->info().free_clusters;
    write_file(*volume, "t", pattern(40, 100000));
    EXPECT_EQ(volume->info().free_clusters, free_before - 25);
    File file = must(volume->open("t", OpenMode::read_write));
    must_ok(file.set_size(10000));
    EXPECT_EQ(volume->info().free_clusters, free_before - 3);
    std::vector<uint8_t> head(10000);
    EXPECT_EQ(must(file.read(0, head)), 10000u);
    auto full = pattern(40, 100000);
    EXPECT_EQ(head, std::vector<uint8_t>(full.begin(), full.begin() + 10000));
    must_ok(file.set_size(0));
    EXPECT_EQ(volume->info().free_clusters, free_before);
    must_ok(file.write(0, pattern(41, 5000)));
    must_ok(file.close());
    EXPECT_EQ(read_file(*volume, "t"), pattern(41, 5000));
    expect_clean(*volume);
}

TEST(ExfatFiles, DirectoriesNestListAndRemove) {
    Fixture fx;
    auto volume = fx.mount();
    EXFAT_ASSERT_OK(volume->create_directory("vms"));
    EXFAT_ASSERT_OK(volume->create_directory("/vms/debian"));
    write_file(*volume, "vms/debian/disk.vhdx", pattern(50, 3000));
    write_file(*volume, "vms/debian/vm.cfg", pattern(51, 100));
    EXPECT_EQ(list(*volume, "vms/debian"), (std::set<std::string>{"disk.vhdx", "vm.cfg"}));
    EXPECT_EQ(list(*volume, "/"), (std::set<std::string>{"vms"}));
    EXPECT_EQ(volume->create_directory("vms").error().code(), ErrorCode::already_exists);
    EXPECT_EQ(volume->create_directory("nope/x").error().code(), ErrorCode::not_found);
    EXPECT_EQ(volume->open("vms/debian/vm.cfg/x", OpenMode::read).error().code(),
              ErrorCode::invalid_argument);
    EXPECT_EQ(volume->open("vms", OpenMode::read).error().code(), ErrorCode::invalid_argument);
    EXPECT_EQ(volume->remove("vms/debian").error().code(), ErrorCode::busy); // not empty
    EXFAT_ASSERT_OK(volume->remove("vms/debian/disk.vhdx"));
    EXFAT_ASSERT_OK(volume->remove("vms/debian/VM.CFG"));
    EXFAT_ASSERT_OK(volume->remove("vms/debian"));
    EXFAT_ASSERT_OK(volume->remove("vms"));
    EXPECT_TRUE(list(*volume, "/").empty());
    EXPECT_EQ(volume->remove("/").error().code(), ErrorCode::invalid_argument);
    expect_clean(*volume);
}

TEST(ExfatFiles, DirectoriesGrowPastOneCluster) {
    Fixture fx(16 << 20, 512, FormatOptions{512, "", 0, 0}); // 512-byte clusters: grow often
    auto volume = fx.mount();
    EXFAT_ASSERT_OK(volume->create_directory("many"));
    std::set<std::string> expected;
    for (int i = 0; i < 300; ++i) {
        std::string name = "file-number-" + std::to_string(i);
        write_file(*volume, "many/" + name, pattern(i, i % 7 * 100));
        expected.insert(name);
        if (i % 3 == 0) { // root grows too (a FAT chain with no entry of its own)
            EXFAT_ASSERT_OK(volume->create_directory("root-dir-" + std::to_string(i)));
        }
    }
    EXPECT_EQ(list(*volume, "many"), expected);
    EXFAT_ASSERT_OK(volume->unmount());
    auto again = fx.mount();
    EXPECT_EQ(list(*again, "many"), expected);
    EXPECT_EQ(read_file(*again, "many/file-number-299"), pattern(299, 5 * 100));
    for (const std::string& name : expected)
        EXFAT_ASSERT_OK(again->remove("many/" + name));
    EXPECT_TRUE(list(*again, "many").empty());
    expect_clean(*again);
}

TEST(ExfatFiles, RenameInPlaceAcrossDirectoriesAndWhileOpen) {
    Fixture fx;
    auto volume = fx.mount();
    EXFAT_ASSERT_OK(volume->create_directory("a"));
    EXFAT_ASSERT_OK(volume->create_directory("b"));
    write_file(*volume, "a/original-name.txt", pattern(60, 7000));
    EXFAT_ASSERT_OK(volume->rename("a/original-name.txt", "a/short")); // in place
    EXFAT_ASSERT_OK(volume->rename("a/short", "a/SHORT"));             // case only
    EXPECT_EQ(list(*volume, "a"), (std::set<std::string>{"SHORT"}));
    EXFAT_ASSERT_OK(volume->rename("a/SHORT", "b/a-much-longer-name-than-before.txt"));
    EXPECT_TRUE(list(*volume, "a").empty());
    EXPECT_EQ(read_file(*volume, "b/a-much-longer-name-than-before.txt"), pattern(60, 7000));
    write_file(*volume, "b/other", pattern(61, 10));
    EXPECT_EQ(volume->rename("b/other", "b/A-MUCH-LONGER-NAME-THAN-BEFORE.TXT").error().code(),
              ErrorCode::already_exists);
    EXPECT_EQ(volume->rename("b", "b/inside").error().code(), ErrorCode::invalid_argument);
    EXFAT_ASSERT_OK(volume->rename("b", "a/b-moved"));
    // An open file keeps working across a rename, and its pending size lands in the new entry.
    File file = must(volume->open("a/b-moved/other", OpenMode::read_write));
    must_ok(file.write(10, pattern(62, 90000)));
    EXFAT_ASSERT_OK(volume->rename("a/b-moved/other", "other-at-root"));
    must_ok(file.write(0, pattern(63, 10)));
    must_ok(file.close());
    auto content = read_file(*volume, "other-at-root");
    ASSERT_EQ(content.size(), 90010u);
    EXPECT_EQ(std::vector<uint8_t>(content.begin(), content.begin() + 10), pattern(63, 10));
    EXFAT_ASSERT_OK(volume->unmount());
    auto again = fx.mount();
    EXPECT_EQ(read_file(*again, "other-at-root").size(), 90010u);
    expect_clean(*again);
}

TEST(ExfatFiles, OpenFilesAreSharedAndProtected) {
    Fixture fx;
    auto volume = fx.mount();
    File writer = must(volume->open("shared", OpenMode::read_write, Disposition::create_new));
    File reader = must(volume->open("SHARED", OpenMode::read));
    must_ok(writer.write(0, pattern(70, 12345)));
    EXPECT_EQ(reader.size(), 12345u);
    std::vector<uint8_t> buffer(12345);
    EXPECT_EQ(must(reader.read(0, buffer)), 12345u);
    EXPECT_EQ(buffer, pattern(70, 12345));
    EXPECT_EQ(reader.write(0, buffer).error().code(), ErrorCode::permission);
    EXPECT_EQ(volume->remove("shared").error().code(), ErrorCode::busy);
    EXPECT_EQ(volume->unmount().error().code(), ErrorCode::busy);
    EntryInfo info;
    EXFAT_ASSERT_OK(volume->stat("shared", info));
    EXPECT_EQ(info.size, 12345u); // the open file's size, not yet on disk
    must_ok(writer.close());
    must_ok(reader.close());
    EXFAT_ASSERT_OK(volume->remove("shared"));
    EXFAT_ASSERT_OK(volume->unmount());
}

TEST(ExfatFiles, FragmentedFilesReadRandomlyWithoutWalkingWholeChains) {
    Fixture fx(16 << 20, 512, FormatOptions{512, "", 0, 0});
    auto volume = fx.mount();
    // Two files appended to in turn: every cluster of each is its own fragment.
    File a = must(volume->open("a", OpenMode::read_write, Disposition::create_new));
    File b = must(volume->open("b", OpenMode::read_write, Disposition::create_new));
    const size_t clusters = 3000;
    auto data_a = pattern(90, clusters * 512);
    auto data_b = pattern(91, clusters * 512);
    for (size_t i = 0; i < clusters; ++i) {
        must_ok(a.write(i * 512, {data_a.data() + i * 512, 512}));
        must_ok(b.write(i * 512, {data_b.data() + i * 512, 512}));
    }
    EXPECT_FALSE(a.contiguous());
    must_ok(a.close());
    must_ok(b.close());
    File file = must(volume->open("a", OpenMode::read));
    std::mt19937_64 engine(5);
    std::vector<uint8_t> buffer(100);
    uint64_t reads_before = fx.device.reads();
    for (int i = 0; i < 300; ++i) {
        uint64_t offset = engine() % (data_a.size() - buffer.size());
        EXPECT_EQ(must(file.read(offset, buffer)), buffer.size());
        ASSERT_TRUE(std::equal(buffer.begin(), buffer.end(), data_a.begin() + offset));
    }
    // Checkpoints along the chain bound each lookup to a few FAT sectors (a walk from the
    // start would read dozens per access once the FAT outgrows the sector cache).
    EXPECT_LT(fx.device.reads() - reads_before, 300u * 4);
    must_ok(file.close());
    expect_clean(*volume);
}

TEST(ExfatFiles, FullVolumeFailsCleanly) {
    Fixture fx(4 << 20);
    auto volume = fx.mount();
    File file = must(volume->open("big", OpenMode::read_write, Disposition::create_new));
    auto chunk = pattern(80, 65536);
    uint64_t offset = 0;
    for (;;) {
        auto written = file.write(offset, chunk);
        if (written.is_error()) {
            EXPECT_EQ(written.error().code(), ErrorCode::out_of_range);
            break;
        }
        offset += chunk.size();
    }
    EXPECT_GT(offset, 3u << 20);
    must_ok(file.close());
    EXPECT_LT(volume->info().free_clusters, 16u); // less than one 64 KiB chunk left
    EXPECT_EQ(read_file(*volume, "big").size(), offset);
    expect_clean(*volume);
    EXFAT_ASSERT_OK(volume->remove("big"));
    write_file(*volume, "after", pattern(81, 1 << 20));
    EXPECT_EQ(read_file(*volume, "after"), pattern(81, 1 << 20));
    expect_clean(*volume);
}

} // namespace
} // namespace halcyon::exfat::testing
