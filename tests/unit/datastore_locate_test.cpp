// Finding the datastore (mgmt/datastore/locate.hpp): `auto` takes the first HALCYON-DS volume on
// a whole device or a GPT/MBR partition; a PCI address takes that disk's volume whatever its
// label; damaged volumes are reported, never taken, and nothing is ever written while looking.
#include "mgmt/datastore/locate.hpp"
#include "tests/unit/datastore_test_support.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace halcyon;
using namespace halcyon::datastore;
using namespace halcyon::datastore::testing;

namespace {

constexpr uint64_t kSectors = 65536; // 32 MiB

struct Lines final : LocateLog {
    void line(bool problem, const char* text) override {
        all.push_back(std::string(problem ? "warn: " : "info: ") + text);
    }
    std::string joined() const {
        std::string out;
        for (const auto& line : all)
            out += line + "\n";
        return out;
    }
    std::vector<std::string> all;
};

struct Disks {
    std::vector<std::unique_ptr<MemorySectorDevice>> devices;
    std::vector<Candidate> candidates;
    std::vector<std::string> names;

    MemorySectorDevice& add(uint8_t device_number) {
        devices.push_back(std::make_unique<MemorySectorDevice>(512, kSectors));
        names.push_back("disk " + std::to_string(device_number));
        return *devices.back();
    }
    std::span<const Candidate> list() {
        candidates.clear();
        for (size_t i = 0; i < devices.size(); ++i)
            candidates.push_back(Candidate{devices[i].get(), names[i].c_str(), 0,
                                           static_cast<uint8_t>(3 + i), 0,
                                           config::kNoDatastorePort});
        return candidates;
    }
    uint64_t writes() const {
        uint64_t total = 0;
        for (const auto& device : devices)
            total += device->writes();
        return total;
    }
};

config::DatastoreConfig automatic() {
    return config::DatastoreConfig{};
}

config::DatastoreConfig at_device(uint8_t device) {
    config::DatastoreConfig selector;
    selector.mode = config::DatastoreMode::device;
    selector.device = device;
    return selector;
}

TEST(DatastoreLocate, AutoTakesTheLabelledWholeDevice) {
    Disks disks;
    disks.add(3);
    format_at(disks.add(4), 0, kSectors, "halcyon-ds"); // labels match case-insensitively
    vhdx::testing::HeapAllocator allocator;
    Lines lines;
    auto found = locate_datastore(disks.list(), automatic(), allocator, lines);
    ASSERT_FALSE(found.is_error()) << found.error().message() << "\n" << lines.joined();
    EXPECT_EQ(found.value().candidate, 1u);
    EXPECT_EQ(found.value().partition, 0u);
    EXPECT_EQ(found.value().sector_count, kSectors);
    EXPECT_STREQ(found.value().probe.label, "halcyon-ds");
    EXPECT_TRUE(found.value().probe.valid);
}

TEST(DatastoreLocate, AutoSearchesGptPartitionsAndSkipsOtherLabels) {
    Disks disks;
    MemorySectorDevice& disk = disks.add(3);
    write_gpt(disk.image(), {{2048, 20479, 0}, {20480, 60000, 1}});
    format_at(disk, 2048, 18432, "PHOTOS");
    format_at(disk, 20480, 60000 - 20480 + 1, "HALCYON-DS");
    vhdx::testing::HeapAllocator allocator;
    Lines lines;
    const uint64_t writes = disks.writes();
    auto found = locate_datastore(disks.list(), automatic(), allocator, lines);
    ASSERT_FALSE(found.is_error()) << found.error().message() << "\n" << lines.joined();
    EXPECT_EQ(found.value().partition, 2u);
    EXPECT_EQ(found.value().first_sector, 20480u);
    EXPECT_NE(lines.joined().find("disk 3 partition 1: exFAT volume \"PHOTOS\" is not labelled "
                                  "HALCYON-DS"),
              std::string::npos)
        << lines.joined();
    EXPECT_EQ(disks.writes(), writes); // looking never writes
}

TEST(DatastoreLocate, AutoFindsMbrPartitions) {
    Disks disks;
    MemorySectorDevice& disk = disks.add(3);
    write_mbr(disk.image(), {{0x07, 4096, 32768}});
    format_at(disk, 4096, 32768, "HALCYON-DS");
    vhdx::testing::HeapAllocator allocator;
    Lines lines;
    auto found = locate_datastore(disks.list(), automatic(), allocator, lines);
    ASSERT_FALSE(found.is_error()) << found.error().message();
    EXPECT_EQ(found.value().partition, 1u);
    EXPECT_EQ(found.value().first_sector, 4096u);
}

TEST(DatastoreLocate, AutoWithoutADatastoreIsNotFound) {
    Disks disks;
    format_at(disks.add(3), 0, kSectors, "OTHER");
    disks.add(4);
    vhdx::testing::HeapAllocator allocator;
    Lines lines;
    auto found = locate_datastore(disks.list(), automatic(), allocator, lines);
    ASSERT_TRUE(found.is_error());
    EXPECT_EQ(found.error().code(), ErrorCode::not_found);
    EXPECT_STREQ(found.error().message(), "no disk holds an exFAT volume labelled HALCYON-DS");
}

TEST(DatastoreLocate, ExplicitDeviceTakesAnyLabel) {
    Disks disks;
    format_at(disks.add(3), 0, kSectors, "HALCYON-DS");
    format_at(disks.add(4), 0, kSectors, "MINE");
    vhdx::testing::HeapAllocator allocator;
    Lines lines;
    auto found = locate_datastore(disks.list(), at_device(4), allocator, lines);
    ASSERT_FALSE(found.is_error()) << found.error().message();
    EXPECT_EQ(found.value().candidate, 1u);
    EXPECT_STREQ(found.value().probe.label, "MINE");

    auto missing = locate_datastore(disks.list(), at_device(9), allocator, lines);
    ASSERT_TRUE(missing.is_error());
    EXPECT_STREQ(missing.error().message(),
                 "no started disk has the configured PCI address (and port)");
}

TEST(DatastoreLocate, ExplicitDeviceWithoutVolumeIsNotFound) {
    Disks disks;
    disks.add(3);
    vhdx::testing::HeapAllocator allocator;
    Lines lines;
    auto found = locate_datastore(disks.list(), at_device(3), allocator, lines);
    ASSERT_TRUE(found.is_error());
    EXPECT_STREQ(found.error().message(),
                 "the configured disk holds no exFAT volume (whole device or partition)");
}

TEST(DatastoreLocate, DamagedBootRegionIsReportedAndNeverWritten) {
    Disks disks;
    MemorySectorDevice& disk = disks.add(3);
    format_at(disk, 0, kSectors, "HALCYON-DS");
    disk.image()[100] ^= 0xFF; // inside the boot checksum's range
    const std::vector<uint8_t> before = disk.image();
    const uint64_t writes = disks.writes();
    vhdx::testing::HeapAllocator allocator;
    Lines lines;
    // Explicitly chosen: an error naming the damage.
    auto chosen = locate_datastore(disks.list(), at_device(3), allocator, lines);
    ASSERT_TRUE(chosen.is_error());
    EXPECT_EQ(chosen.error().code(), ErrorCode::corrupt);
    // Automatic: the label cannot be trusted, so the volume is passed over with a warning.
    lines.all.clear();
    auto automatic_result = locate_datastore(disks.list(), automatic(), allocator, lines);
    ASSERT_TRUE(automatic_result.is_error());
    EXPECT_NE(lines.joined().find("warn: datastore: disk 3: exFAT volume with a damaged boot "
                                  "region"),
              std::string::npos)
        << lines.joined();
    EXPECT_EQ(disk.image(), before);
    EXPECT_EQ(disks.writes(), writes);
}

TEST(DatastoreLocate, NoneMountsNothing) {
    Disks disks;
    format_at(disks.add(3), 0, kSectors, "HALCYON-DS");
    config::DatastoreConfig none;
    none.mode = config::DatastoreMode::none;
    vhdx::testing::HeapAllocator allocator;
    Lines lines;
    auto found = locate_datastore(disks.list(), none, allocator, lines);
    ASSERT_TRUE(found.is_error());
    EXPECT_EQ(found.error().code(), ErrorCode::not_found);
}

TEST(DatastoreLocate, LabelComparisonIgnoresAsciiCase) {
    EXPECT_TRUE(label_equals("Halcyon-DS", "HALCYON-DS"));
    EXPECT_FALSE(label_equals("HALCYON-D", "HALCYON-DS"));
    EXPECT_FALSE(label_equals("", "HALCYON-DS"));
    EXPECT_TRUE(label_equals("", ""));
}

} // namespace
