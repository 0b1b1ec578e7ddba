// virtio-blk against the fake device: bring-up and features, geometry (blk_size, capacity in
// 512-byte units), reads and writes through descriptor chains, FLUSH honoured (and not sent to
// a write-through device), FUA as write + flush, read-only, device errors, timeouts.
#include "drivers/virtio/virtqueue.hpp"
#include "tests/unit/block_virtio_fake.hpp"

using namespace halcyon;
using namespace halcyon::test;

namespace {

struct Rig {
    explicit Rig(uint32_t block_size = 512, uint64_t sectors = 4096)
        : device(dma, clock, block_size, sectors) {}
    FakeDmaMemory dma;
    FakeClock clock;
    FakeVirtioBlk device;
    VirtioBlk driver;

    ErrorOr<void> start(VirtioBlkOptions options = {}) {
        return driver.start(device, dma, clock, options);
    }
    DmaRegion buffer(size_t bytes) { return dma.allocate_dma(bytes).value(); }
};

TEST(VirtioBlk, BringsTheDeviceUpAndReadsItsGeometry) {
    Rig rig(512, 8192);
    ASSERT_FALSE(rig.start().is_error());
    const DiskInfo& info = rig.driver.info();
    EXPECT_EQ(info.kind, Kind::virtio_blk);
    EXPECT_EQ(info.sector_size, 512u);
    EXPECT_EQ(info.sector_count, 8192u);
    EXPECT_STREQ(info.model, "virtio-blk");
    EXPECT_STREQ(info.serial, "vblk-serial-0042") << "from GET_ID";
    EXPECT_TRUE(info.flush_command);
    EXPECT_TRUE(info.volatile_cache) << "FLUSH negotiated without CONFIG_WCE: writeback";
    EXPECT_FALSE(info.native_fua) << "virtio-blk has no FUA";
    EXPECT_FALSE(info.read_only);
    EXPECT_EQ(rig.device.negotiated & (1ULL << 12), 0u) << "MQ is not taken";
    EXPECT_NE(rig.device.negotiated & virtio::kFeatureVersion1, 0u);
    EXPECT_EQ(rig.device.status() & (virtio::kStatusDriverOk | virtio::kStatusFeaturesOk),
              virtio::kStatusDriverOk | virtio::kStatusFeaturesOk);
    EXPECT_EQ(rig.device.queue_size, 16) << "the default queue limit, a power of two";
}

TEST(VirtioBlk, FourKiBBlocksAddressTheDeviceIn512ByteUnits) {
    Rig rig(4096, 1024);
    ASSERT_FALSE(rig.start().is_error());
    EXPECT_EQ(rig.driver.info().sector_size, 4096u);
    EXPECT_EQ(rig.driver.info().sector_count, 1024u) << "capacity 8192 units of 512 bytes";
    DmaRegion buffer = rig.buffer(3 * 4096);
    const std::vector<uint8_t> data = pattern_bytes(3 * 4096, 7);
    std::memcpy(buffer.virt, data.data(), data.size());
    ASSERT_FALSE(rig.driver.write(1000, 3, buffer).is_error());
    std::vector<uint8_t> on_disk(3 * 4096);
    rig.device.disk.read(1000, on_disk.data(), 3);
    EXPECT_EQ(on_disk, data) << "LBA 1000 of 4 KiB is device sector 8000";
}

TEST(VirtioBlk, ReadsBackWhatItWroteAndSplitsLargeTransfers) {
    Rig rig;
    VirtioBlkOptions options;
    options.max_transfer_bytes = 8192; // 16 sectors per request
    ASSERT_FALSE(rig.start(options).is_error());
    EXPECT_EQ(rig.driver.info().max_transfer_sectors, 16u);
    DmaRegion buffer = rig.buffer(100 * 512);
    const std::vector<uint8_t> data = pattern_bytes(100 * 512, 3);
    std::memcpy(buffer.virt, data.data(), data.size());
    const size_t before = rig.device.request_types.size();
    ASSERT_FALSE(rig.driver.write(17, 100, buffer).is_error());
    EXPECT_EQ(rig.device.request_types.size() - before, 7u) << "ceil(100 / 16) requests";
    EXPECT_LE(rig.device.max_data_length, 8192u);
    std::memset(buffer.virt, 0, buffer.size);
    ASSERT_FALSE(rig.driver.read(17, 100, buffer).is_error());
    EXPECT_EQ(std::memcmp(buffer.virt, data.data(), data.size()), 0);
}

TEST(VirtioBlk, FlushMakesCachedWritesDurable) {
    Rig rig;
    ASSERT_FALSE(rig.start().is_error());
    DmaRegion buffer = rig.buffer(4096);
    std::memset(buffer.virt, 0xAB, 4096);
    ASSERT_FALSE(rig.driver.write(8, 8, buffer).is_error());
    EXPECT_EQ(rig.device.disk.cached_sectors(), 8u) << "the device caches: not durable yet";
    ASSERT_FALSE(rig.driver.flush().is_error());
    EXPECT_EQ(rig.device.disk.cached_sectors(), 0u);
    EXPECT_EQ(rig.device.disk.durable()[8 * 512], 0xAB);
    EXPECT_EQ(rig.device.request_types.back(), vb::kTypeFlush);
}

TEST(VirtioBlk, FuaWriteIsDurableWhenItReturns) {
    Rig rig;
    ASSERT_FALSE(rig.start().is_error());
    DmaRegion buffer = rig.buffer(512);
    std::memset(buffer.virt, 0x5A, 512);
    ASSERT_FALSE(rig.driver.write(5, 1, buffer, WriteMode::fua).is_error());
    EXPECT_EQ(rig.device.disk.cached_sectors(), 0u);
    EXPECT_EQ(rig.device.disk.durable()[5 * 512], 0x5A);
    ASSERT_GE(rig.device.request_types.size(), 2u);
    EXPECT_EQ(rig.device.request_types[rig.device.request_types.size() - 2], vb::kTypeOut);
    EXPECT_EQ(rig.device.request_types.back(), vb::kTypeFlush) << "write, then flush";
}

TEST(VirtioBlk, WithoutTheFlushFeatureTheDeviceIsWriteThroughAndNoFlushIsSent) {
    Rig rig;
    rig.device.offered &= ~vb::kFeatureFlush;
    ASSERT_FALSE(rig.start().is_error());
    EXPECT_FALSE(rig.driver.info().flush_command);
    EXPECT_FALSE(rig.driver.info().volatile_cache);
    DmaRegion buffer = rig.buffer(512);
    std::memset(buffer.virt, 0x11, 512);
    ASSERT_FALSE(rig.driver.write(2, 1, buffer, WriteMode::fua).is_error());
    ASSERT_FALSE(rig.driver.flush().is_error()) << "nothing to flush on a write-through device";
    for (uint32_t type : rig.device.request_types)
        EXPECT_NE(type, vb::kTypeFlush) << "FLUSH was never negotiated";
    EXPECT_EQ(rig.device.disk.durable()[2 * 512], 0x11);
}

TEST(VirtioBlk, ConfigWceCanSayWriteThroughEvenWithFlush) {
    Rig rig;
    rig.device.offered |= vb::kFeatureConfigWce;
    rig.device.set_config8(vb::kConfigWriteback, 0);
    ASSERT_FALSE(rig.start().is_error());
    EXPECT_TRUE(rig.driver.info().flush_command);
    EXPECT_FALSE(rig.driver.info().volatile_cache);
}

TEST(VirtioBlk, ReadOnlyDevicesRefuseWritesWithoutSendingThem) {
    Rig rig;
    rig.device.offered |= vb::kFeatureReadOnly;
    ASSERT_FALSE(rig.start().is_error());
    EXPECT_TRUE(rig.driver.info().read_only);
    DmaRegion buffer = rig.buffer(512);
    const size_t before = rig.device.request_types.size();
    auto result = rig.driver.write(0, 1, buffer);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::permission);
    EXPECT_EQ(rig.device.request_types.size(), before);
    EXPECT_FALSE(rig.driver.read(0, 1, buffer).is_error());
}

TEST(VirtioBlk, DeviceErrorsBecomeErrorsAndTheDriverGoesOn) {
    Rig rig;
    ASSERT_FALSE(rig.start().is_error());
    DmaRegion buffer = rig.buffer(512);
    rig.device.fail_type = vb::kTypeIn;
    auto result = rig.driver.read(0, 1, buffer);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::io);
    rig.device.fail_status = vb::kStatusUnsupported;
    EXPECT_EQ(rig.driver.read(0, 1, buffer).error().code(), ErrorCode::not_supported);
    rig.device.fail_type = vb::kTypeFlush;
    rig.device.fail_status = vb::kStatusIoError;
    EXPECT_TRUE(rig.driver.flush().is_error()) << "a failed flush is never reported durable";
    rig.device.fail_type.reset();
    EXPECT_FALSE(rig.driver.read(0, 1, buffer).is_error());
    EXPECT_FALSE(rig.driver.failed());
}

TEST(VirtioBlk, ANonsenseStatusFailsTheDriver) {
    Rig rig;
    ASSERT_FALSE(rig.start().is_error());
    DmaRegion buffer = rig.buffer(512);
    rig.device.fail_type = vb::kTypeIn;
    rig.device.fail_status = 0x7F;
    EXPECT_EQ(rig.driver.read(0, 1, buffer).error().code(), ErrorCode::corrupt);
    EXPECT_TRUE(rig.driver.failed());
}

TEST(VirtioBlk, CompletionsAfterALatencyArriveThroughThePolledWait) {
    Rig rig;
    rig.device.latency_us = 2'000;
    ASSERT_FALSE(rig.start().is_error());
    DmaRegion buffer = rig.buffer(512);
    const uint64_t before = rig.clock.now_us;
    ASSERT_FALSE(rig.driver.read(0, 1, buffer).is_error());
    EXPECT_GE(rig.clock.now_us - before, 2'000u);
}

TEST(VirtioBlk, ARequestThatNeverCompletesTimesOutAndFailsTheDriver) {
    Rig rig;
    ASSERT_FALSE(rig.start().is_error());
    rig.device.never_complete = true;
    DmaRegion buffer = rig.buffer(512);
    VirtioBlkOptions options;
    const uint64_t before = rig.clock.now_us;
    auto result = rig.driver.read(0, 1, buffer);
    ASSERT_TRUE(result.is_error());
    EXPECT_EQ(result.error().code(), ErrorCode::timeout);
    EXPECT_GE(rig.clock.now_us - before, options.io_timeout_us);
    EXPECT_LE(rig.clock.now_us - before, options.io_timeout_us + 1000);
    EXPECT_TRUE(rig.driver.failed());
    rig.device.never_complete = false;
    EXPECT_EQ(rig.driver.read(0, 1, buffer).error().code(), ErrorCode::io)
        << "no reuse of a chain the device may still own";
}

TEST(VirtioBlk, StartFailuresAreErrorsNotHangs) {
    {
        Rig rig;
        rig.device.reset_sticks = true;
        EXPECT_EQ(rig.start().error().code(), ErrorCode::timeout);
    }
    {
        Rig rig;
        rig.device.offered &= ~virtio::kFeatureVersion1;
        EXPECT_EQ(rig.start().error().code(), ErrorCode::not_supported);
        EXPECT_NE(rig.device.status() & virtio::kStatusFailed, 0) << "FAILED told to the device";
    }
    {
        Rig rig;
        rig.device.refuse_features = true;
        EXPECT_TRUE(rig.start().is_error());
    }
    {
        Rig rig;
        rig.device.max_queue = 2;
        EXPECT_EQ(rig.start().error().code(), ErrorCode::not_supported);
    }
    {
        Rig rig;
        rig.device.set_config32(vb::kConfigBlockSize, 520);
        EXPECT_EQ(rig.start().error().code(), ErrorCode::not_supported);
    }
    {
        Rig rig;
        rig.dma.fail_after = 1;
        EXPECT_EQ(rig.start().error().code(), ErrorCode::out_of_memory);
    }
}

TEST(VirtioBlk, GeometryIsReadAgainWhileTheConfigurationChanges) {
    Rig rig;
    rig.device.config_changes = 3;
    ASSERT_FALSE(rig.start().is_error());
    EXPECT_EQ(rig.driver.info().sector_count, 4096u);
}

TEST(VirtioBlk, NoSerialWhenGetIdIsUnsupported) {
    Rig rig;
    rig.device.get_id_supported = false;
    ASSERT_FALSE(rig.start().is_error());
    EXPECT_STREQ(rig.driver.info().serial, "");
}

TEST(VirtioBlk, IdentifiesModernAndTransitionalBlockDevices) {
    pci::Function f;
    f.vendor_id = 0x1AF4;
    f.device_id = 0x1042;
    EXPECT_TRUE(is_virtio_blk(f));
    f.device_id = 0x1001;
    f.subsystem_id = 2;
    EXPECT_TRUE(is_virtio_blk(f));
    f.subsystem_id = 1;
    EXPECT_FALSE(is_virtio_blk(f)) << "transitional network device";
    f.device_id = 0x1041;
    EXPECT_FALSE(is_virtio_blk(f));
}

// The virtqueue's chains, which virtio-blk relies on.
TEST(VirtqueueChains, ChainsLinkInOrderAndComeBackWhole) {
    FakeDmaMemory dma;
    DmaRegion ring = dma.allocate_dma(SplitVirtqueue::ring_bytes(8)).value();
    SplitVirtqueue queue = SplitVirtqueue::create(8, ring.virt, ring.device_address).value();
    const BufferSegment chain[3] = {{0x1000, 16, false}, {0x2000, 512, true}, {0x3000, 1, true}};
    for (int round = 0; round < 10; ++round) {
        const uint16_t head = queue.submit_chain(chain).value();
        EXPECT_EQ(queue.free_descriptors(), 5);
        auto* descriptors = reinterpret_cast<VirtqDescriptor*>(ring.virt);
        uint16_t index = head;
        for (int i = 0; i < 3; ++i) {
            EXPECT_EQ(descriptors[index].address, chain[i].device_address);
            EXPECT_EQ((descriptors[index].flags & kDescriptorNext) != 0, i < 2);
            EXPECT_EQ((descriptors[index].flags & kDescriptorWrite) != 0, chain[i].device_writable);
            index = descriptors[index].next;
        }
        // The device completes it.
        uint8_t* used = ring.virt + (queue.used_ring_address() - ring.device_address);
        uint16_t used_index;
        std::memcpy(&used_index, used + 2, 2);
        const uint32_t element[2] = {head, 513};
        std::memcpy(used + 4 + 8 * (used_index % 8), element, 8);
        ++used_index;
        std::memcpy(used + 2, &used_index, 2);
        auto done = queue.take_used();
        ASSERT_TRUE(done.has_value());
        EXPECT_EQ(done->descriptor, head);
        EXPECT_EQ(queue.free_descriptors(), 8) << "the whole chain is free again";
    }
}

TEST(VirtqueueChains, RefusesBadChains) {
    FakeDmaMemory dma;
    DmaRegion ring = dma.allocate_dma(SplitVirtqueue::ring_bytes(4)).value();
    SplitVirtqueue queue = SplitVirtqueue::create(4, ring.virt, ring.device_address).value();
    const BufferSegment backwards[2] = {{0x1000, 1, true}, {0x2000, 16, false}};
    EXPECT_EQ(queue.submit_chain(backwards).error().code(), ErrorCode::invalid_argument);
    const BufferSegment five[5] = {};
    EXPECT_EQ(queue.submit_chain(five).error().code(), ErrorCode::busy);
    EXPECT_EQ(queue.submit_chain({}).error().code(), ErrorCode::invalid_argument);
    EXPECT_EQ(queue.free_descriptors(), 4);
}

} // namespace
