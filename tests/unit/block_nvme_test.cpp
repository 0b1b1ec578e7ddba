// NVMe against the fake controller: reset/enable handshake bounded by CAP.TO, identify, queue
// creation, reads and writes with PRPs (single page, two pages, lists, chained lists), FUA and
// Flush honoured, phase tags across many wraps, status errors, timeouts; and the PRP builder.
#include "drivers/block/nvme.hpp"
#include "drivers/block/nvme_prp.hpp"
#include "tests/unit/block_nvme_fake.hpp"

using namespace halcyon;
using namespace halcyon::test;

namespace {

struct Rig {
    explicit Rig(uint32_t lba_shift = 9, uint64_t blocks = 8192)
        : device(dma, clock, lba_shift, blocks) {}
    FakeDmaMemory dma;
    FakeClock clock;
    FakeNvme device;
    Nvme driver;

    ErrorOr<void> start(NvmeOptions options = {}) {
        return driver.start(device, dma, clock, options);
    }
    DmaRegion buffer(size_t bytes) { return dma.allocate_dma(bytes).value(); }
};

TEST(Nvme, EnablesIdentifiesAndCreatesTheIoQueues) {
    Rig rig;
    ASSERT_FALSE(rig.start().is_error());
    EXPECT_TRUE(rig.device.enabled());
    const DiskInfo& info = rig.driver.info();
    EXPECT_EQ(info.kind, Kind::nvme);
    EXPECT_STREQ(info.model, "HALCYON FAKE NVME");
    EXPECT_STREQ(info.serial, "FAKE-0001");
    EXPECT_EQ(info.sector_size, 512u);
    EXPECT_EQ(info.sector_count, 8192u);
    EXPECT_TRUE(info.flush_command);
    EXPECT_TRUE(info.native_fua);
    EXPECT_TRUE(info.volatile_cache);
    EXPECT_EQ(info.max_transfer_sectors, 256u) << "MDTS 5: 128 KiB";
    EXPECT_EQ(rig.driver.namespace_id(), 1u);
    EXPECT_GE(rig.clock.now_us, 100u) << "waited for CSTS.RDY";
}

TEST(Nvme, ResetsAControllerTheFirmwareLeftEnabled) {
    Rig rig;
    rig.device.start_enabled();
    ASSERT_FALSE(rig.start().is_error());
    EXPECT_GE(rig.clock.now_us, 200u) << "RDY went to 0, then back to 1";
    EXPECT_EQ(rig.device.cc_writes_while_enabled, 0u) << "registers programmed while disabled";
}

TEST(Nvme, FourKiBLbasAndAnotherNamespaceId) {
    Rig rig(12, 1000);
    rig.device.namespace_id = 7;
    ASSERT_FALSE(rig.start().is_error());
    EXPECT_EQ(rig.driver.namespace_id(), 7u) << "from the active namespace list";
    EXPECT_EQ(rig.driver.info().sector_size, 4096u);
    DmaRegion buffer = rig.buffer(2 * 4096);
    const std::vector<uint8_t> data = pattern_bytes(2 * 4096, 9);
    std::memcpy(buffer.virt, data.data(), data.size());
    ASSERT_FALSE(rig.driver.write(998, 2, buffer).is_error());
    std::memset(buffer.virt, 0, buffer.size);
    ASSERT_FALSE(rig.driver.read(998, 2, buffer).is_error());
    EXPECT_EQ(std::memcmp(buffer.virt, data.data(), data.size()), 0);
}

TEST(Nvme, TransfersOfEverySizeAndOffsetRoundTrip) {
    Rig rig;
    ASSERT_FALSE(rig.start().is_error());
    DmaRegion buffer = rig.buffer(600 * 512 + 4096);
    // Offsets inside the first page exercise PRP1 offsets; sizes cross 1, 2 and many pages,
    // and 600 sectors need several commands (MDTS) each with a PRP list.
    const size_t offsets[] = {0, 4, 512, 4092};
    const uint32_t counts[] = {1, 7, 8, 9, 16, 17, 255, 256, 600};
    uint32_t seed = 1;
    for (size_t offset : offsets) {
        for (uint32_t count : counts) {
            const DmaRegion slice = dma_slice(buffer, offset, size_t(count) * 512);
            const std::vector<uint8_t> data = pattern_bytes(size_t(count) * 512, ++seed);
            std::memcpy(slice.virt, data.data(), data.size());
            ASSERT_FALSE(rig.driver.write(100, count, slice).is_error());
            std::memset(slice.virt, 0, data.size());
            ASSERT_FALSE(rig.driver.read(100, count, slice).is_error());
            ASSERT_EQ(std::memcmp(slice.virt, data.data(), data.size()), 0)
                << "offset " << offset << " count " << count;
        }
    }
    EXPECT_GT(rig.device.list_pages_walked, 0u);
}

TEST(Nvme, PhaseTagsSurviveManyWrapsOfTheQueues) {
    Rig rig;
    NvmeOptions options;
    options.io_queue_entries = 4; // wraps every four commands
    ASSERT_FALSE(rig.start(options).is_error());
    DmaRegion buffer = rig.buffer(512);
    for (uint32_t i = 0; i < 50; ++i) {
        std::memset(buffer.virt, static_cast<int>(i), 512);
        ASSERT_FALSE(rig.driver.write(i, 1, buffer).is_error()) << i;
    }
    for (uint32_t i = 0; i < 50; ++i) {
        ASSERT_FALSE(rig.driver.read(i, 1, buffer).is_error()) << i;
        EXPECT_EQ(buffer.virt[0], static_cast<uint8_t>(i));
    }
}

TEST(Nvme, FuaAndFlushAreHonoured) {
    Rig rig;
    ASSERT_FALSE(rig.start().is_error());
    DmaRegion buffer = rig.buffer(4096);
    std::memset(buffer.virt, 0x77, 4096);
    ASSERT_FALSE(rig.driver.write(0, 8, buffer).is_error());
    EXPECT_EQ(rig.device.disk.cached_sectors(), 8u);
    EXPECT_EQ(rig.device.commands.back().entry.cdw12 & nvme::kCdw12ForceUnitAccess, 0u);
    ASSERT_FALSE(rig.driver.write(16, 8, buffer, WriteMode::fua).is_error());
    EXPECT_NE(rig.device.commands.back().entry.cdw12 & nvme::kCdw12ForceUnitAccess, 0u);
    EXPECT_EQ(rig.device.disk.durable()[16 * 512], 0x77) << "FUA data is durable at once";
    EXPECT_EQ(rig.device.io_commands(nvme::kIoFlush), 0u) << "native FUA needs no flush";
    ASSERT_FALSE(rig.driver.flush().is_error());
    EXPECT_EQ(rig.device.io_commands(nvme::kIoFlush), 1u);
    EXPECT_EQ(rig.device.disk.cached_sectors(), 0u);
    EXPECT_EQ(rig.device.disk.durable()[0], 0x77);
}

TEST(Nvme, CommandErrorsAreNamedAndDoNotStopTheDriver) {
    Rig rig;
    ASSERT_FALSE(rig.start().is_error());
    DmaRegion buffer = rig.buffer(512);
    rig.device.fail_io[nvme::kIoRead] = 0x281; // media error: unrecovered read
    auto result = rig.driver.read(3, 1, buffer);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::io);
    EXPECT_STREQ(result.error().message(), "NVMe command failed: unrecovered read error");
    rig.device.fail_io[nvme::kIoFlush] = 0x006;
    EXPECT_TRUE(rig.driver.flush().is_error()) << "a failed flush is never reported durable";
    EXPECT_FALSE(rig.driver.failed());
    EXPECT_FALSE(rig.driver.read(3, 1, buffer).is_error());
}

TEST(Nvme, WriteProtectedNamespacesAreReadOnly) {
    Rig rig;
    rig.device.write_protected = true;
    ASSERT_FALSE(rig.start().is_error());
    EXPECT_TRUE(rig.driver.info().read_only);
    DmaRegion buffer = rig.buffer(512);
    EXPECT_EQ(rig.driver.write(0, 1, buffer).error().code(), ErrorCode::permission);
    EXPECT_EQ(rig.device.io_commands(nvme::kIoWrite), 0u);
}

TEST(Nvme, WithoutAVolatileCacheWritesAreDurableAtOnce) {
    Rig rig;
    rig.device.volatile_write_cache = false;
    ASSERT_FALSE(rig.start().is_error());
    EXPECT_FALSE(rig.driver.info().volatile_cache);
    DmaRegion buffer = rig.buffer(512);
    std::memset(buffer.virt, 0x42, 512);
    ASSERT_FALSE(rig.driver.write(1, 1, buffer).is_error());
    EXPECT_EQ(rig.device.disk.durable()[512], 0x42);
}

TEST(Nvme, ACommandThatNeverCompletesTimesOutAndFailsTheDriver) {
    Rig rig;
    NvmeOptions options;
    options.io_timeout_us = 50'000;
    ASSERT_FALSE(rig.start(options).is_error());
    rig.device.never_complete = true;
    DmaRegion buffer = rig.buffer(512);
    const uint64_t before = rig.clock.now_us;
    EXPECT_EQ(rig.driver.read(0, 1, buffer).error().code(), ErrorCode::timeout);
    EXPECT_GE(rig.clock.now_us - before, 50'000u);
    EXPECT_TRUE(rig.driver.failed());
    EXPECT_EQ(rig.driver.flush().error().code(), ErrorCode::io);
}

TEST(Nvme, LatencyIsWaitedFor) {
    Rig rig;
    rig.device.latency_us = 3'000;
    ASSERT_FALSE(rig.start().is_error());
    DmaRegion buffer = rig.buffer(512);
    EXPECT_FALSE(rig.driver.read(0, 1, buffer).is_error());
}

TEST(Nvme, StartFailuresAreBoundedErrors) {
    {
        Rig rig;
        rig.device.never_ready = true;
        const auto result = rig.start();
        EXPECT_EQ(result.error().code(), ErrorCode::timeout);
        EXPECT_GE(rig.clock.now_us, 1'000'000u) << "CAP.TO = 2 x 500 ms";
        EXPECT_LT(rig.clock.now_us, 1'100'000u);
    }
    {
        Rig rig;
        rig.device.never_ready = true;
        rig.device.fatal = true;
        EXPECT_EQ(rig.start().error().code(), ErrorCode::io) << "CSTS.CFS named";
    }
    {
        Rig rig;
        rig.device.cap &= ~(1ull << 37);
        EXPECT_EQ(rig.start().error().code(), ErrorCode::not_supported);
    }
    {
        Rig rig;
        rig.device.metadata_bytes = 8;
        EXPECT_EQ(rig.start().error().code(), ErrorCode::not_supported);
    }
    {
        Rig rig;
        rig.device.cap = ~0ull;
        EXPECT_EQ(rig.start().error().code(), ErrorCode::io);
    }
}

TEST(Nvme, FallsBackToNamespaceOneOnControllersWithoutTheActiveList) {
    Rig rig;
    rig.device.active_list_supported = false;
    ASSERT_FALSE(rig.start().is_error());
    EXPECT_EQ(rig.driver.namespace_id(), 1u);
}

TEST(Nvme, IdentifiesNvmeByClassCode) {
    pci::Function f;
    f.class_code = 0x01;
    f.subclass = 0x08;
    f.prog_if = 0x02;
    EXPECT_TRUE(is_nvme(f));
    f.prog_if = 0x03;
    EXPECT_FALSE(is_nvme(f));
}

// ---- PRP builder ----

TEST(NvmePrp, OneAndTwoPagesNeedNoList) {
    auto one = nvme::build_prps(0x10000, 4096, 4096, {}).value();
    EXPECT_EQ(one.prp1, 0x10000u);
    EXPECT_EQ(one.prp2, 0u);
    auto offset = nvme::build_prps(0x10200, 4096, 4096, {}).value();
    EXPECT_EQ(offset.prp2, 0x11000u) << "crosses into a second page";
    auto two = nvme::build_prps(0x10000, 8192, 4096, {}).value();
    EXPECT_EQ(two.prp2, 0x11000u);
}

TEST(NvmePrp, ListsChainWhenAPageOfEntriesIsFull) {
    FakeDmaMemory dma;
    DmaRegion pages[2] = {dma.allocate_dma(4096).value(), dma.allocate_dma(4096).value()};
    // 513 further pages after the first: 511 entries + chain pointer, then 2 entries.
    const uint64_t length = 4096 + 513ull * 4096;
    EXPECT_EQ(nvme::prp_list_entries(0x100000, length, 4096), 513u);
    auto prps = nvme::build_prps(0x100000, length, 4096, pages).value();
    EXPECT_EQ(prps.prp2, pages[0].device_address);
    const auto* first = reinterpret_cast<const uint64_t*>(pages[0].virt);
    const auto* second = reinterpret_cast<const uint64_t*>(pages[1].virt);
    EXPECT_EQ(first[0], 0x101000u);
    EXPECT_EQ(first[510], 0x101000u + 510 * 4096);
    EXPECT_EQ(first[511], pages[1].device_address);
    EXPECT_EQ(second[0], 0x101000u + 511 * 4096);
    EXPECT_EQ(second[1], 0x101000u + 512 * 4096);
    EXPECT_EQ(nvme::build_prps(0x100000, length, 4096, std::span(pages, 1)).error().code(),
              ErrorCode::out_of_range);
}

TEST(NvmePrp, ListPagesNeededCoversTheWorstOffset) {
    EXPECT_EQ(nvme::prp_list_pages_needed(4096, 4096), 0u) << "PRP2 covers it at any offset";
    EXPECT_EQ(nvme::prp_list_pages_needed(8192, 4096), 1u) << "three pages at a bad offset";
    EXPECT_EQ(nvme::prp_list_pages_needed(1 << 20, 4096), 1u);
    EXPECT_EQ(nvme::prp_list_pages_needed(2 << 20, 4096), 1u) << "512 entries fill one page";
    EXPECT_EQ(nvme::prp_list_pages_needed((2 << 20) + 4096, 4096), 2u)
        << "513 entries at the worst offset need a chained page";
    EXPECT_EQ(nvme::build_prps(0x1002, 512, 4096, {}).error().code(), ErrorCode::invalid_argument)
        << "PRP1 must be dword aligned";
}

} // namespace
