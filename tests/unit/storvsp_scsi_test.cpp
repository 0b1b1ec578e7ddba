// The SCSI target through the whole controller, command by command, as Linux's SCSI midlayer
// and sd send them: the data returned and the sense data for every error.
#include "storvsp_test_support.hpp"

using namespace storvsp_test;

namespace {

constexpr uint8_t kRead = 1, kWrite = 0, kNone = 2;
constexpr uint64_t kBuffer = 0x100000;

class StorvspScsi : public ::testing::Test {
protected:
    StorvspScsi() : disk(2048, thin()) {}
    static MemoryBlockDeviceOptions thin() {
        MemoryBlockDeviceOptions o;
        o.unmap_granularity = 8;
        o.serial = "SERIAL-0001";
        for (int i = 0; i < 16; ++i)
            o.disk_id.bytes[i] = static_cast<uint8_t>(0xA0 + i);
        return o;
    }
    void SetUp() override {
        ASSERT_FALSE(h.controller.attach(0, disk.device).is_error());
        h.initialize();
    }
    std::vector<uint8_t> data(uint32_t length, uint64_t gpa = kBuffer) {
        auto span = h.ram(gpa, length);
        return {span.begin(), span.end()};
    }
    Reply in(std::initializer_list<uint8_t> cdb, uint32_t length, uint8_t lun = 0) {
        std::memset(h.ram(kBuffer, length).data(), 0xEE, length);
        return h.scsi(cdb, lun, kRead, {kBuffer, length});
    }
    Reply none(std::initializer_list<uint8_t> cdb, uint8_t lun = 0) {
        return h.scsi(cdb, lun, kNone);
    }
    void fill(uint64_t gpa, uint32_t length, uint8_t seed) {
        auto span = h.ram(gpa, length);
        for (uint32_t i = 0; i < length; ++i)
            span[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 9));
    }

    Harness h;
    MemoryDisk disk;
};

TEST_F(StorvspScsi, StandardInquiry) {
    Reply r = in({0x12, 0, 0, 0, 36, 0}, 36);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(r.srb.data_transfer_length, 36u);
    auto d = data(36);
    EXPECT_EQ(d[0], 0x00); // direct access, connected
    EXPECT_EQ(d[2], 0x06); // SPC-4
    EXPECT_EQ(d[3] & 0x0F, 0x02);
    EXPECT_EQ(d[4], 31);
    EXPECT_EQ(d[7] & 0x02, 0x02); // CMDQUE
    EXPECT_EQ(std::string(d.begin() + 8, d.begin() + 16), "Msft    ");
    EXPECT_EQ(std::string(d.begin() + 16, d.begin() + 32), "Virtual Disk    ");
    // The allocation length truncates.
    r = in({0x12, 0, 0, 0, 5, 0}, 36);
    EXPECT_EQ(r.srb.data_transfer_length, 5u);
    EXPECT_EQ(data(6)[5], 0xEE);
}

TEST_F(StorvspScsi, InquiryOfAbsentUnitsSaysNotPresent) {
    for (auto [lun, path, target] : {std::tuple{5, 0, 0}, {64, 0, 0}, {0, 1, 0}, {0, 0, 1}}) {
        std::memset(h.ram(kBuffer, 36).data(), 0xEE, 36);
        Reply r = h.scsi({0x12, 0, 0, 0, 36, 0}, static_cast<uint8_t>(lun), kRead, {kBuffer, 36}, 0,
                         0, static_cast<uint8_t>(path), static_cast<uint8_t>(target));
        ASSERT_TRUE(r.good());
        EXPECT_EQ(data(1)[0], 0x7F); // qualifier 011b, type 1Fh
    }
    // No VPD for an absent unit.
    Reply r = in({0x12, 1, 0x80, 0, 255, 0}, 255, 9);
    EXPECT_TRUE(r.check_condition(5, 0x24, 0));
}

TEST_F(StorvspScsi, VpdPages) {
    Reply r = in({0x12, 1, 0x00, 0, 255, 0}, 255);
    ASSERT_TRUE(r.good());
    auto d = data(10);
    EXPECT_EQ(d[1], 0x00);
    EXPECT_EQ(d[3], 6);
    EXPECT_EQ(std::vector<uint8_t>(d.begin() + 4, d.begin() + 10),
              (std::vector<uint8_t>{0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2}));

    r = in({0x12, 1, 0x80, 0, 255, 0}, 255);
    ASSERT_TRUE(r.good());
    d = data(4 + 11);
    EXPECT_EQ(d[1], 0x80);
    EXPECT_EQ(d[3], 11);
    EXPECT_EQ(std::string(d.begin() + 4, d.end()), "SERIAL-0001");

    r = in({0x12, 1, 0x83, 0, 255, 0}, 255);
    ASSERT_TRUE(r.good());
    d = data(64);
    EXPECT_EQ(d[1], 0x83);
    EXPECT_EQ(d[3], 56);
    // NAA 3h (locally assigned), 8 bytes folded from the disk id.
    EXPECT_EQ(d[4], 0x01);
    EXPECT_EQ(d[5], 0x03);
    EXPECT_EQ(d[7], 8);
    EXPECT_EQ(d[8] >> 4, 3);
    EXPECT_EQ(d[9], static_cast<uint8_t>(0xA1 ^ 0xA9));
    // T10 vendor id "Msft" + the disk id in hex.
    EXPECT_EQ(d[16], 0x02);
    EXPECT_EQ(d[17], 0x01);
    EXPECT_EQ(d[19], 40);
    EXPECT_EQ(std::string(d.begin() + 20, d.begin() + 28), "Msft    ");
    EXPECT_EQ(std::string(d.begin() + 28, d.begin() + 60), "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF");
    EXPECT_EQ(r.srb.data_transfer_length, 60u);

    r = in({0x12, 1, 0xB0, 0, 255, 0}, 255);
    ASSERT_TRUE(r.good());
    d = data(64);
    EXPECT_EQ(d[3], 0x3C);            // Linux reads the rest only when the length is 3Ch
    EXPECT_EQ(d[4] & 1, 1);           // WSNZ
    EXPECT_EQ((d[6] << 8) | d[7], 8); // 4096 / 512
    EXPECT_EQ((d[8] << 24) | (d[9] << 16) | (d[10] << 8) | d[11], 512); // 256 KiB / 512
    EXPECT_EQ(d[20] & d[21] & d[22] & d[23], 0xFF);                     // max unmap LBAs
    EXPECT_EQ(d[27], 64);                                               // descriptors
    EXPECT_EQ(d[31], 8);                                                // granularity
    EXPECT_EQ(d[32], 0x80);                                             // UGAVALID
    EXPECT_EQ((uint64_t{d[40]} << 24) | (d[41] << 16) | (d[42] << 8) | d[43], (1u << 30) / 512);

    r = in({0x12, 1, 0xB1, 0, 255, 0}, 255);
    ASSERT_TRUE(r.good());
    d = data(8);
    EXPECT_EQ(d[3], 0x3C);
    EXPECT_EQ((d[4] << 8) | d[5], 1); // non-rotating

    r = in({0x12, 1, 0xB2, 0, 255, 0}, 255);
    ASSERT_TRUE(r.good());
    d = data(8);
    EXPECT_EQ(d[3], 4);
    EXPECT_EQ(d[5], 0x80 | 0x40 | 0x20 | 0x04); // LBPU LBPWS LBPWS10 LBPRZ
    EXPECT_EQ(d[6] & 7, 2);                     // thin

    EXPECT_TRUE(in({0x12, 1, 0x89, 0, 255, 0}, 255).check_condition(5, 0x24, 0));
    EXPECT_TRUE(in({0x12, 0, 0x80, 0, 255, 0}, 255).check_condition(5, 0x24, 0));
    r = in({0x12, 2, 0, 0, 255, 0}, 255); // CMDDT
    EXPECT_TRUE(r.check_condition(5, 0x24, 0));
    // Sense-key specific: SKSV, C/D, field pointer byte 1.
    EXPECT_EQ(r.srb.cdb_or_sense[15] & 0xC0, 0xC0);
    EXPECT_EQ(r.srb.cdb_or_sense[17], 1);
}

TEST_F(StorvspScsi, ReadCapacity) {
    Reply r = in({0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 8);
    ASSERT_TRUE(r.good());
    auto d = data(8);
    EXPECT_EQ(d, (std::vector<uint8_t>{0, 0, 0x07, 0xFF, 0, 0, 0x02, 0x00}));
    r = in({0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}, 32);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(r.srb.data_transfer_length, 32u);
    d = data(32);
    EXPECT_EQ(d[7], 0xFF);
    EXPECT_EQ(d[6], 0x07);
    EXPECT_EQ(d[10], 0x02);
    EXPECT_EQ(d[13], 3);    // 8 logical blocks per physical block (512e)
    EXPECT_EQ(d[14], 0xC0); // LBPME, LBPRZ
    // PMI=0 with an LBA is an invalid field; other service actions too.
    EXPECT_TRUE(in({0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0}, 8).check_condition(5, 0x24, 0));
    EXPECT_TRUE(in({0x9E, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}, 32)
                    .check_condition(5, 0x24, 0));
}

// A device past 2^32 sectors with no storage behind it (only geometry matters).
class HugeDevice final : public BlockDevice {
public:
    uint32_t logical_sector_size() const override { return 4096; }
    uint32_t physical_sector_size() const override { return 4096; }
    uint64_t sector_count() const override { return 1ull << 33; }
    bool read_only() const override { return true; }
    DiskId disk_id() const override { return {}; }
    std::string_view serial() const override { return "HUGE"; }
    uint32_t unmap_granularity() const override { return 0; }
    ErrorOr<void> read(uint64_t, std::span<uint8_t> out) override {
        std::memset(out.data(), 0x5A, out.size());
        return {};
    }
    ErrorOr<void> write(uint64_t, std::span<const uint8_t>) override {
        return Error(ErrorCode::permission, "no");
    }
    ErrorOr<void> flush() override { return {}; }
    ErrorOr<void> unmap(uint64_t, uint64_t) override { return {}; }
    ErrorOr<void> write_zeroes(uint64_t, uint64_t, bool) override { return {}; }
    ErrorOr<void> resize(uint64_t) override { return Error(ErrorCode::not_supported, "no"); }
};

TEST_F(StorvspScsi, LargeAndFourKnCapacities) {
    HugeDevice huge;
    ASSERT_FALSE(h.controller.attach(1, huge).is_error());
    none({0, 0, 0, 0, 0, 0}, 1); // (no unit attention on the new unit; LUN 0 has one)
    Reply r = in({0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 8, 1);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(data(8), (std::vector<uint8_t>{0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0x10, 0}));
    r = in({0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}, 32, 1);
    auto d = data(32);
    EXPECT_EQ(d[3], 0x01); // last LBA 2^33 - 1
    EXPECT_EQ(d[4], 0xFF);
    EXPECT_EQ(d[13], 0); // 4Kn: one logical block per physical block
    EXPECT_EQ(d[14], 0); // fully provisioned
    // The short mode-parameter block descriptor saturates.
    r = in({0x1A, 0, 0x08, 0, 255, 0}, 255, 1);
    ASSERT_TRUE(r.good());
    d = data(12);
    EXPECT_EQ(d[3], 8);
    EXPECT_EQ(d[5], 0xFF);
    EXPECT_EQ(d[6], 0xFF);
    EXPECT_EQ(d[7], 0xFF);
    EXPECT_EQ(d[10], 0x10); // block length 4096
    // Reads far out are fine on a huge device; past the end is not.
    r = in({0x88, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}, 4096, 1);
    EXPECT_TRUE(r.good());
    EXPECT_EQ(data(1)[0], 0x5A);
    EXPECT_TRUE(in({0x88, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}, 4096, 1)
                    .check_condition(5, 0x21, 0));
}

TEST_F(StorvspScsi, ModeSense) {
    // sd_read_write_protect_flag: MODE SENSE(6), page 3Fh.
    Reply r = in({0x1A, 0, 0x3F, 0, 192, 0}, 192);
    ASSERT_TRUE(r.good());
    auto d = data(4 + 8 + 20 + 12);
    EXPECT_EQ(r.srb.data_transfer_length, 44u);
    EXPECT_EQ(d[0], 43);
    EXPECT_EQ(d[2], 0x10); // not write-protected, DPOFUA
    EXPECT_EQ(d[3], 8);
    EXPECT_EQ(d[12], 0x08); // caching page
    EXPECT_EQ(d[13], 0x12);
    EXPECT_EQ(d[14] & 0x04, 0x04); // WCE
    EXPECT_EQ(d[32], 0x0A);        // control page
    // sd_read_cache_type: DBD, caching page only, MODE SENSE(10).
    r = in({0x5A, 0x08, 0x08, 0, 0, 0, 0, 0, 255, 0}, 255);
    ASSERT_TRUE(r.good());
    d = data(28);
    EXPECT_EQ((d[0] << 8) | d[1], 26);
    EXPECT_EQ(d[3], 0x10);
    EXPECT_EQ(d[7], 0);
    EXPECT_EQ(d[8], 0x08);
    EXPECT_EQ(d[10] & 0x04, 0x04);
    // LLBAA: a long block descriptor.
    r = in({0x5A, 0x10, 0x0A, 0, 0, 0, 0, 0, 255, 0}, 255);
    ASSERT_TRUE(r.good());
    d = data(8 + 16 + 12);
    EXPECT_EQ(d[4], 1);
    EXPECT_EQ(d[7], 16);
    EXPECT_EQ(d[15], 0x00);
    EXPECT_EQ((d[14] << 8) | d[15], 2048);
    EXPECT_EQ(d[24], 0x0A);
    // Changeable values: nothing can change.
    r = in({0x1A, 0x08, 0x48, 0, 255, 0}, 255);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(data(7)[6], 0);
    // Truncation to the allocation length.
    r = in({0x1A, 0, 0x3F, 0, 4, 0}, 255);
    EXPECT_EQ(r.srb.data_transfer_length, 4u);
    EXPECT_EQ(data(1)[0], 43); // the full length is still reported
    // Errors: unsupported page, saved values, subpage.
    EXPECT_TRUE(in({0x1A, 0, 0x1C, 0, 255, 0}, 255).check_condition(5, 0x24, 0));
    EXPECT_TRUE(in({0x1A, 0, 0xC8, 0, 255, 0}, 255).check_condition(5, 0x39, 0));
    EXPECT_TRUE(in({0x1A, 0, 0x08, 1, 255, 0}, 255).check_condition(5, 0x24, 0));
    EXPECT_TRUE(in({0x1A, 0, 0x3F, 0xFF, 255, 0}, 255).good());
}

TEST_F(StorvspScsi, ReadWrite10And16And6) {
    fill(kBuffer, 4096, 1);
    auto written = data(4096);
    Reply r = h.scsi({0x2A, 0, 0, 0, 0, 16, 0, 0, 8, 0}, 0, kWrite, {kBuffer, 4096});
    ASSERT_TRUE(r.good());
    EXPECT_EQ(r.srb.data_transfer_length, 4096u);
    EXPECT_EQ(0, std::memcmp(disk.storage.data() + 16 * 512, written.data(), 4096));
    r = in({0x28, 0, 0, 0, 0, 16, 0, 0, 8, 0}, 4096);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(data(4096), written);
    // WRITE(16)/READ(16) at the last sectors.
    fill(kBuffer, 1024, 9);
    written = data(1024);
    r = h.scsi({0x8A, 0, 0, 0, 0, 0, 0, 0, 0x07, 0xFE, 0, 0, 0, 2, 0, 0}, 0, kWrite,
               {kBuffer, 1024});
    ASSERT_TRUE(r.good());
    r = in({0x88, 0, 0, 0, 0, 0, 0, 0, 0x07, 0xFE, 0, 0, 0, 2, 0, 0}, 1024);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(data(1024), written);
    // READ(6): a transfer length of 0 means 256 blocks.
    r = in({0x08, 0, 0, 16, 0, 0}, 256 * 512);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(r.srb.data_transfer_length, 256u * 512);
    EXPECT_EQ(0, std::memcmp(h.ram(kBuffer, 4096).data(), disk.storage.data() + 16 * 512, 4096));
    fill(kBuffer, 512, 3);
    r = h.scsi({0x0A, 0, 0, 40, 1, 0}, 0, kWrite, {kBuffer, 512});
    ASSERT_TRUE(r.good());
    EXPECT_EQ(0, std::memcmp(disk.storage.data() + 40 * 512, h.ram(kBuffer, 512).data(), 512));
    // A zero-length READ(10) is not an error.
    r = none({0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    EXPECT_TRUE(r.good());
    EXPECT_EQ(r.srb.data_transfer_length, 0u);
}

TEST_F(StorvspScsi, OutOfRangeAndBadTransfers) {
    EXPECT_TRUE(in({0x28, 0, 0, 0, 0x07, 0xFF, 0, 0, 2, 0}, 1024).check_condition(5, 0x21, 0));
    EXPECT_TRUE(in({0x28, 0, 0, 0, 0x08, 0x00, 0, 0, 0, 0}, 0).check_condition(5, 0x21, 0));
    // LBA + length overflowing 64 bits.
    EXPECT_TRUE(
        in({0x88, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 2, 0, 0}, 1024)
            .check_condition(5, 0x21, 0));
    EXPECT_TRUE(h.scsi({0x2A, 0, 0, 0, 0x07, 0xFF, 0, 0, 2, 0}, 0, kWrite, {kBuffer, 1024})
                    .check_condition(5, 0x21, 0));
    // The guest's buffer is smaller than the transfer: field pointer at TRANSFER LENGTH.
    Reply r = in({0x28, 0, 0, 0, 0, 0, 0, 0, 4, 0}, 1024);
    EXPECT_TRUE(r.check_condition(5, 0x24, 0));
    EXPECT_EQ(r.srb.cdb_or_sense[17], 7);
    // RDPROTECT needs protection information, which the target has none of.
    EXPECT_TRUE(in({0x28, 0x20, 0, 0, 0, 0, 0, 0, 1, 0}, 512).check_condition(5, 0x24, 0));
    // A read whose SRB says "data out" is an SRB error (no SCSI status, no sense).
    r = h.scsi({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 0, kWrite, {kBuffer, 512});
    EXPECT_EQ(r.srb.srb_status, 0x06);
    EXPECT_EQ(r.srb.scsi_status, 0);
    EXPECT_EQ(r.srb.sense_info_length, 0);
}

TEST_F(StorvspScsi, FuaAndSynchronizeCacheFlush) {
    fill(kBuffer, 512, 5);
    ASSERT_TRUE(h.scsi({0x2A, 0, 0, 0, 0, 1, 0, 0, 1, 0}, 0, kWrite, {kBuffer, 512}).good());
    EXPECT_EQ(disk.device.flushes, 0u);
    ASSERT_TRUE(h.scsi({0x2A, 0x08, 0, 0, 0, 1, 0, 0, 1, 0}, 0, kWrite, {kBuffer, 512}).good());
    EXPECT_EQ(disk.device.flushes, 1u);
    EXPECT_TRUE(none({0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}).good());
    EXPECT_EQ(disk.device.flushes, 2u);
    EXPECT_TRUE(none({0x91, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}).good());
    EXPECT_EQ(disk.device.flushes, 3u);
    EXPECT_TRUE(none({0x35, 0, 0, 0, 0x08, 0x01, 0, 0, 0, 0}).check_condition(5, 0x21, 0));
    disk.device.fail_flushes = true;
    EXPECT_TRUE(none({0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}).check_condition(3, 0x0C, 0));
    EXPECT_TRUE(h.scsi({0x2A, 0x08, 0, 0, 0, 1, 0, 0, 1, 0}, 0, kWrite, {kBuffer, 512})
                    .check_condition(3, 0x0C, 0));
}

TEST_F(StorvspScsi, BackendFailuresAreMediumErrors) {
    disk.device.fail_reads = true;
    Reply r = in({0x28, 0, 0, 0, 0x01, 0x23, 0, 0, 1, 0}, 512);
    EXPECT_TRUE(r.check_condition(3, 0x11, 0));
    EXPECT_EQ(r.srb.cdb_or_sense[0], 0xF0); // VALID: INFORMATION holds the LBA
    EXPECT_EQ(r.srb.cdb_or_sense[5], 0x01);
    EXPECT_EQ(r.srb.cdb_or_sense[6], 0x23);
    EXPECT_EQ(r.srb.srb_status, 0x84); // SRB_STATUS_ERROR | AUTOSENSE_VALID
    EXPECT_EQ(r.srb.data_transfer_length, 0u);
    disk.device.fail_reads = false;
    disk.device.fail_writes = true;
    fill(kBuffer, 512, 1);
    EXPECT_TRUE(h.scsi({0x2A, 0, 0, 0, 0, 2, 0, 0, 1, 0}, 0, kWrite, {kBuffer, 512})
                    .check_condition(3, 0x0C, 0));
}

TEST_F(StorvspScsi, SimpleCommands) {
    EXPECT_TRUE(none({0x00, 0, 0, 0, 0, 0}).good()); // TEST UNIT READY
    EXPECT_TRUE(none({0x1B, 0, 0, 0, 1, 0}).good()); // START STOP UNIT
    EXPECT_TRUE(none({0x1E, 0, 0, 0, 0, 0}).good()); // PREVENT ALLOW MEDIUM REMOVAL
    EXPECT_TRUE(none({0x1D, 0, 0, 0, 0, 0}).check_condition(5, 0x20, 0)); // SEND DIAGNOSTIC
    EXPECT_TRUE(none({0x55, 0, 0, 0, 0, 0, 0, 0, 0, 0}).check_condition(5, 0x20, 0));
    EXPECT_TRUE(none({0xC0, 0, 0, 0, 0, 0}).check_condition(5, 0x20, 0));
    // REQUEST SENSE without anything pending: NO SENSE.
    Reply r = in({0x03, 0, 0, 0, 18, 0}, 18);
    ASSERT_TRUE(r.good());
    auto d = data(18);
    EXPECT_EQ(d[0], 0x70);
    EXPECT_EQ(d[2], 0);
    EXPECT_EQ(d[7], 10);
    EXPECT_TRUE(in({0x03, 1, 0, 0, 18, 0}, 18).check_condition(5, 0x24, 0)); // DESC
}

TEST_F(StorvspScsi, ReportLuns) {
    MemoryDisk a(64), b(64);
    ASSERT_FALSE(h.controller.attach(3, a.device).is_error());
    ASSERT_FALSE(h.controller.attach(63, b.device).is_error());
    Reply r = in({0xA0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0}, 512);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(r.srb.data_transfer_length, 32u);
    auto d = data(32);
    EXPECT_EQ(d[3], 24);
    EXPECT_EQ(d[9], 0);
    EXPECT_EQ(d[17], 3);
    EXPECT_EQ(d[25], 63);
    r = in({0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0}, 512);
    EXPECT_EQ(r.srb.data_transfer_length, 16u);
    // Another path or target has no units; well-known LUNs: none.
    std::memset(h.ram(kBuffer, 16).data(), 0xEE, 16);
    r = h.scsi({0xA0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0}, 0, kRead, {kBuffer, 512}, 0, 0, 0, 1);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(r.srb.data_transfer_length, 8u);
    EXPECT_EQ(data(4)[3], 0);
    r = in({0xA0, 0, 1, 0, 0, 0, 0, 0, 0x02, 0, 0, 0}, 512);
    EXPECT_EQ(data(4)[3], 0);
    EXPECT_TRUE(in({0xA0, 0, 3, 0, 0, 0, 0, 0, 0x02, 0, 0, 0}, 512).check_condition(5, 0x24, 0));
    // REPORT LUNS works on LUN 0 of the target even if there is no LUN 0.
    ASSERT_FALSE(h.controller.detach(0).is_error());
    r = in({0xA0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0}, 512, 0);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(data(4)[3], 16);
}

TEST_F(StorvspScsi, UnsupportedLuns) {
    for (auto [lun, path, target] :
         {std::tuple{7, 0, 0}, {63, 0, 0}, {64, 0, 0}, {200, 0, 0}, {0, 1, 0}, {0, 0, 1}}) {
        Reply r = h.scsi({0x00, 0, 0, 0, 0, 0}, static_cast<uint8_t>(lun), kNone, {}, 0, 0,
                         static_cast<uint8_t>(path), static_cast<uint8_t>(target));
        EXPECT_EQ(r.srb.srb_status, 0x20 | 0x80); // SRB_STATUS_INVALID_LUN (+ autosense)
        EXPECT_TRUE(r.check_condition(5, 0x25, 0));
        EXPECT_EQ(r.status, 0xC00000C0u); // STATUS_DEVICE_DOES_NOT_EXIST
    }
    // REQUEST SENSE to an absent unit returns that as data.
    Reply r = in({0x03, 0, 0, 0, 18, 0}, 18, 7);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(data(18)[12], 0x25);
}

TEST_F(StorvspScsi, MalformedCdbLengths) {
    for (uint8_t length : {0, 17, 0xFF}) {
        auto p = Harness::srb_packet({0x00, 0, 0, 0, 0, 0}, 0, kNone, 0);
        p.srb.cdb_length = length;
        Reply r = h.execute(p, {});
        EXPECT_EQ(r.srb.srb_status, 0x06); // SRB_STATUS_INVALID_REQUEST
        EXPECT_EQ(r.srb.scsi_status, 0);
    }
    // READ(10) in a 6-byte CDB.
    Reply r = h.scsi({0x28, 0, 0, 0, 0, 0}, 0, kRead, {kBuffer, 512});
    EXPECT_EQ(r.srb.srb_status, 0x06);
    // The channel is still fine.
    EXPECT_TRUE(none({0x00, 0, 0, 0, 0, 0}).good());
}

TEST_F(StorvspScsi, SenseLengthFollowsTheGuest) {
    auto p = Harness::srb_packet({0x1D, 0, 0, 0, 0, 0}, 0, kNone, 0);
    p.srb.sense_info_length = 8;
    Reply r = h.execute(p, {});
    EXPECT_EQ(r.srb.sense_info_length, 8);
    EXPECT_EQ(r.srb.cdb_or_sense[2], 5);
    EXPECT_EQ(r.srb.cdb_or_sense[12], 0); // cut off
    p.srb.sense_info_length = 0x14;
    r = h.execute(p, {});
    EXPECT_EQ(r.srb.sense_info_length, 18);
    // SRB_FLAGS_DISABLE_AUTOSENSE: status without sense.
    p.srb.srb_flags |= 0x20;
    r = h.execute(p, {});
    EXPECT_EQ(r.srb.srb_status, 0x04);
    EXPECT_EQ(r.srb.scsi_status, 2);
    EXPECT_EQ(r.srb.sense_info_length, 0);
}

TEST_F(StorvspScsi, ReadOnlyUnit) {
    MemoryBlockDeviceOptions o = thin();
    o.read_only = true;
    MemoryDisk ro(256, o);
    ro.storage[0] = 0x77;
    ASSERT_FALSE(h.controller.attach(1, ro.device).is_error());
    Reply r = in({0x1A, 0, 0x3F, 0, 192, 0}, 192, 1);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(data(3)[2], 0x80 | 0x10); // WP
    r = in({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512, 1);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(data(1)[0], 0x77);
    fill(kBuffer, 512, 1);
    EXPECT_TRUE(h.scsi({0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 1, kWrite, {kBuffer, 512})
                    .check_condition(7, 0x27, 0));
    EXPECT_TRUE(
        h.scsi({0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0}, 1, kWrite, {kBuffer, 512})
            .check_condition(7, 0x27, 0));
    EXPECT_EQ(ro.storage[0], 0x77);
    EXPECT_EQ(ro.device.writes, 0u);
    EXPECT_TRUE(none({0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 1).good());
}

} // namespace
