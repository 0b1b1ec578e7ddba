// AHCI against the fake HBA: hand-off, reset, port detection (disk, empty, ATAPI), IDENTIFY,
// READ/WRITE DMA EXT with PRDs, FUA (native or write + flush), FLUSH CACHE (EXT) honoured,
// error recovery, timeouts, 32-bit HBAs; and the IDENTIFY DEVICE parser.
#include "drivers/block/ahci.hpp"
#include "drivers/block/ata_identify.hpp"
#include "tests/unit/block_ahci_fake.hpp"

using namespace halcyon;
using namespace halcyon::test;

namespace {

using State = AhciController::PortState;

struct Rig {
    explicit Rig(uint64_t dma_base = 0x1'0000'0000ull) : dma(dma_base), hba(dma, clock) {}
    FakeDmaMemory dma;
    FakeClock clock;
    FakeAhci hba;
    AhciController controller;

    std::shared_ptr<FakeDrive> attach(uint32_t port, uint32_t sector_size = 512,
                                      uint64_t sectors = 8192) {
        hba.drives[port] = std::make_shared<FakeDrive>(sector_size, sectors);
        return hba.drives[port];
    }
    ErrorOr<void> start(AhciOptions options = {}) {
        return controller.start(hba, dma, clock, options);
    }
    DmaRegion buffer(size_t bytes) { return dma.allocate_dma(bytes).value(); }
};

TEST(Ahci, ResetsTheHbaAndFindsTheDisks) {
    Rig rig;
    rig.hba.bios_handoff = true;
    rig.attach(0);
    rig.attach(3, 4096, 2048)->model = "SECOND DISK";
    rig.attach(4)->signature = ah::kSignatureAtapi;
    ASSERT_FALSE(rig.start().is_error());
    EXPECT_EQ(rig.controller.disk_count(), 2u);
    EXPECT_EQ(rig.controller.port_state(0), State::started);
    EXPECT_EQ(rig.controller.port_state(1), State::no_device);
    EXPECT_EQ(rig.controller.port_state(3), State::started);
    EXPECT_EQ(rig.controller.port_state(4), State::not_a_disk);
    EXPECT_STREQ(rig.controller.port_error(4), "ATAPI device (optical drive), not a disk");
    EXPECT_EQ(rig.controller.port_state(6), State::not_implemented);

    AhciPort& first = rig.controller.disk(0);
    EXPECT_EQ(first.port(), 0u);
    EXPECT_EQ(first.info().kind, Kind::ahci);
    EXPECT_STREQ(first.info().model, "HALCYON FAKE SATA DISK");
    EXPECT_STREQ(first.info().serial, "SATA-0001");
    EXPECT_EQ(first.info().sector_size, 512u);
    EXPECT_EQ(first.info().sector_count, 8192u);
    EXPECT_TRUE(first.info().flush_command);
    EXPECT_TRUE(first.info().native_fua);
    EXPECT_TRUE(first.info().volatile_cache);
    AhciPort& second = rig.controller.disk(1);
    EXPECT_EQ(second.port(), 3u);
    EXPECT_EQ(second.info().sector_size, 4096u);
    EXPECT_STREQ(second.info().model, "SECOND DISK");
    EXPECT_EQ(rig.hba.writes_to_list_base_while_running, 0u);
    EXPECT_EQ(rig.hba.starts_while_busy, 0u);
    // Empty ports cost the settle time once, not the link window each.
    EXPECT_LT(rig.clock.now_us, AhciOptions{}.link_settle_us + 10'000);
}

TEST(Ahci, ReadsBackWhatItWroteWithSeveralPrdsAndSplitCommands) {
    Rig rig;
    rig.attach(0, 512, 40000);
    AhciOptions options;
    options.max_transfer_bytes = 8u << 20;
    ASSERT_FALSE(rig.start(options).is_error());
    AhciPort& disk = rig.controller.disk(0);
    EXPECT_EQ(disk.info().max_transfer_sectors, 16384u);
    // 10 MiB: two commands (8 MiB + 2 MiB), the first with two 4 MiB PRDs.
    const size_t bytes = 10u << 20;
    DmaRegion buffer = rig.buffer(bytes);
    const std::vector<uint8_t> data = pattern_bytes(bytes, 5);
    std::memcpy(buffer.virt, data.data(), bytes);
    rig.hba.prd_counts.clear();
    ASSERT_FALSE(disk.write(100, bytes / 512, buffer).is_error());
    ASSERT_EQ(rig.hba.prd_counts.size(), 2u);
    EXPECT_EQ(rig.hba.prd_counts[0], 2u);
    EXPECT_EQ(rig.hba.prd_counts[1], 1u);
    std::memset(buffer.virt, 0, bytes);
    ASSERT_FALSE(disk.read(100, bytes / 512, buffer).is_error());
    EXPECT_EQ(std::memcmp(buffer.virt, data.data(), bytes), 0);
}

TEST(Ahci, FuaWritesUseWriteDmaFuaExtWhenTheDriveHasIt) {
    Rig rig;
    auto drive = rig.attach(0);
    ASSERT_FALSE(rig.start().is_error());
    AhciPort& disk = rig.controller.disk(0);
    DmaRegion buffer = rig.buffer(512);
    std::memset(buffer.virt, 0x3C, 512);
    ASSERT_FALSE(disk.write(9, 1, buffer, WriteMode::fua).is_error());
    EXPECT_EQ(drive->commands.back(), ah::kAtaWriteDmaFuaExt);
    EXPECT_EQ(drive->disk.durable()[9 * 512], 0x3C);
    ASSERT_FALSE(disk.write(10, 1, buffer).is_error());
    EXPECT_EQ(drive->commands.back(), ah::kAtaWriteDmaExt);
    EXPECT_EQ(drive->disk.cached_sectors(), 1u);
    ASSERT_FALSE(disk.flush().is_error());
    EXPECT_EQ(drive->commands.back(), ah::kAtaFlushCacheExt);
    EXPECT_EQ(drive->disk.cached_sectors(), 0u);
}

TEST(Ahci, WithoutFuaAFuaWriteIsWriteThenFlush) {
    Rig rig;
    auto drive = rig.attach(0);
    drive->fua = false;
    ASSERT_FALSE(rig.start().is_error());
    AhciPort& disk = rig.controller.disk(0);
    EXPECT_FALSE(disk.info().native_fua);
    DmaRegion buffer = rig.buffer(512);
    std::memset(buffer.virt, 0x3D, 512);
    ASSERT_FALSE(disk.write(4, 1, buffer, WriteMode::fua).is_error());
    ASSERT_GE(drive->commands.size(), 2u);
    EXPECT_EQ(drive->commands[drive->commands.size() - 2], ah::kAtaWriteDmaExt);
    EXPECT_EQ(drive->commands.back(), ah::kAtaFlushCacheExt);
    EXPECT_EQ(drive->disk.durable()[4 * 512], 0x3D);
}

TEST(Ahci, FlushUsesWhatTheDriveHasAndNeverPretends) {
    {
        Rig rig;
        auto drive = rig.attach(0);
        drive->flush_ext = false;
        ASSERT_FALSE(rig.start().is_error());
        ASSERT_FALSE(rig.controller.disk(0).flush().is_error());
        EXPECT_EQ(drive->commands.back(), ah::kAtaFlushCache);
    }
    {
        Rig rig;
        auto drive = rig.attach(0);
        drive->flush_ext = drive->flush = false;
        drive->write_cache = false;
        ASSERT_FALSE(rig.start().is_error());
        const size_t before = drive->commands.size();
        EXPECT_FALSE(rig.controller.disk(0).flush().is_error()) << "write-through drive";
        EXPECT_EQ(drive->commands.size(), before);
    }
    {
        Rig rig;
        auto drive = rig.attach(0);
        drive->flush_ext = drive->flush = false;
        ASSERT_FALSE(rig.start().is_error());
        EXPECT_EQ(rig.controller.disk(0).flush().error().code(), ErrorCode::not_supported)
            << "a caching drive without a flush command cannot promise durability";
    }
}

TEST(Ahci, ErrorsAreNamedAndThePortRecovers) {
    Rig rig;
    auto drive = rig.attach(0, 512, 1000);
    ASSERT_FALSE(rig.start().is_error());
    AhciPort& disk = rig.controller.disk(0);
    DmaRegion buffer = rig.buffer(4096);
    drive->fail_command = ah::kAtaReadDmaExt;
    auto result = disk.read(0, 8, buffer);
    ASSERT_TRUE(result.is_error());
    EXPECT_STREQ(result.error().message(), "ATA command aborted by the device");
    EXPECT_FALSE(disk.failed());
    EXPECT_FALSE(disk.read(0, 8, buffer).is_error()) << "the engine was restarted";
    drive->fail_command = ah::kAtaFlushCacheExt;
    EXPECT_TRUE(disk.flush().is_error()) << "a failed flush is never reported durable";
    EXPECT_FALSE(disk.flush().is_error());
}

TEST(Ahci, ACommandThatNeverCompletesTimesOutAndFailsThePort) {
    Rig rig;
    rig.attach(0);
    AhciOptions options;
    options.io_timeout_us = 40'000;
    ASSERT_FALSE(rig.start(options).is_error());
    AhciPort& disk = rig.controller.disk(0);
    rig.hba.never_complete = true;
    DmaRegion buffer = rig.buffer(512);
    const uint64_t before = rig.clock.now_us;
    EXPECT_EQ(disk.read(0, 1, buffer).error().code(), ErrorCode::timeout);
    EXPECT_GE(rig.clock.now_us - before, 40'000u);
    EXPECT_TRUE(disk.failed());
}

TEST(Ahci, LatencyIsWaitedFor) {
    Rig rig;
    rig.attach(0);
    rig.hba.latency_us = 5'000;
    ASSERT_FALSE(rig.start().is_error());
    DmaRegion buffer = rig.buffer(512);
    EXPECT_FALSE(rig.controller.disk(0).read(0, 1, buffer).is_error());
}

TEST(Ahci, AnHbaWithout64BitAddressingRefusesMemoryAbove4GiB) {
    {
        Rig rig; // fake DMA memory lives above 4 GiB
        rig.hba.cap &= ~ah::kCap64Bit;
        rig.attach(0);
        ASSERT_FALSE(rig.start().is_error());
        EXPECT_EQ(rig.controller.port_state(0), State::failed);
        EXPECT_EQ(rig.controller.disk_count(), 0u);
    }
    {
        Rig rig(0x1000'0000);
        rig.hba.cap &= ~ah::kCap64Bit;
        rig.attach(0);
        ASSERT_FALSE(rig.start().is_error());
        EXPECT_EQ(rig.controller.disk_count(), 1u);
    }
}

TEST(Ahci, APortThatSeesADeviceGetsTheWholeLinkWindow) {
    Rig rig;
    rig.attach(1);
    rig.hba.link_up_us = 400'000; // slower than the settle time, within the window
    ASSERT_FALSE(rig.start().is_error());
    EXPECT_EQ(rig.controller.disk_count(), 1u);
}

TEST(Ahci, StaggeredSpinUpPortsComeUpOnceSpunUp) {
    Rig rig;
    rig.hba.cap |= ah::kCapStaggeredSpinUp;
    rig.attach(2);
    ASSERT_FALSE(rig.start().is_error());
    EXPECT_EQ(rig.controller.disk_count(), 1u);
}

TEST(Ahci, HbaFailuresAreBoundedErrors) {
    {
        Rig rig;
        rig.hba.reset_sticks = true;
        EXPECT_EQ(rig.start().error().code(), ErrorCode::timeout);
    }
    {
        Rig rig;
        rig.hba.bios_handoff = true;
        rig.hba.bios_never_releases = true;
        EXPECT_EQ(rig.start().error().code(), ErrorCode::timeout);
    }
}

TEST(Ahci, IdentifiesAhciByClassCode) {
    pci::Function f;
    f.class_code = 0x01;
    f.subclass = 0x06;
    f.prog_if = 0x01;
    EXPECT_TRUE(is_ahci(f));
    f.prog_if = 0x00; // vendor-specific SATA (IDE mode)
    EXPECT_FALSE(is_ahci(f));
}

// ---- IDENTIFY DEVICE parsing ----

TEST(AtaIdentify, ParsesStringsCapacityAndFeatures) {
    FakeDrive drive(512, 100);
    drive.model = "Model With Odd Len";
    auto words = drive.identify();
    const uint64_t big = 0x1'2345'6789; // past 28 bits
    for (int i = 0; i < 4; ++i)
        words[100 + i] = static_cast<uint16_t>(big >> (16 * i));
    auto info = ata::parse_identify(words).value();
    EXPECT_STREQ(info.model, "Model With Odd Len");
    EXPECT_STREQ(info.serial, "SATA-0001");
    EXPECT_TRUE(info.lba48);
    EXPECT_EQ(info.sectors, 0x1'2345'6789u) << "48-bit count, not the 28-bit one";
    EXPECT_TRUE(info.flush_cache_ext);
    EXPECT_TRUE(info.fua_ext);
    EXPECT_TRUE(info.write_cache_enabled);
}

TEST(AtaIdentify, InvalidFeatureWordsAreIgnoredAndSectorSizesChecked) {
    FakeDrive drive(4096, 100);
    auto words = drive.identify();
    EXPECT_EQ(ata::parse_identify(words).value().sector_size, 4096u);
    words[84] = 0xFFFF; // bits 15:14 != 01: not valid
    words[87] = 0xFFFF;
    EXPECT_FALSE(ata::parse_identify(words).value().fua_ext);
    words[117] = 300; // 600 bytes: not a power of two
    EXPECT_EQ(ata::parse_identify(words).error().code(), ErrorCode::not_supported);
    words = drive.identify();
    words[0] = 0x8580; // ATAPI
    EXPECT_EQ(ata::parse_identify(words).error().code(), ErrorCode::not_supported);
    words = drive.identify();
    words[83] = 0x4000; // no 48-bit: the 28-bit count
    EXPECT_FALSE(ata::parse_identify(words).value().lba48);
    EXPECT_EQ(ata::parse_identify(words).value().sectors, 100u);
}

} // namespace
