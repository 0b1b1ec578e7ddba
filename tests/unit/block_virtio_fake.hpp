// A fake virtio-blk device behind virtio::DeviceTransport: feature negotiation, the
// configuration structure with its generation counter, and a request queue it serves by
// walking descriptor chains in (fake) DMA memory the way a device does (virtio 1.1, 2.6 and
// 5.2): header, data, status; results through the used ring. Writes go through DiskImage's
// cache model: FLUSH commits them; without VIRTIO_BLK_F_FLUSH the device is write-through.
#pragma once

#include "drivers/block/virtio_blk.hpp"
#include "tests/unit/block_test_support.hpp"

#include <array>
#include <optional>
#include <string>

namespace halcyon::test {

namespace vb = halcyon::drivers::block::virtio_blk;

class FakeVirtioBlk final : public virtio::DeviceTransport {
public:
    FakeVirtioBlk(FakeDmaMemory& dma, FakeClock& clock, uint32_t block_size, uint64_t sectors)
        : disk(block_size, sectors), dma_(dma), clock_(clock) {
        offered = virtio::kFeatureVersion1 | vb::kFeatureBlockSize | vb::kFeatureFlush |
                  vb::kFeatureSegMax | (1ULL << 12) /* MQ: not wanted */;
        set_config32(vb::kConfigCapacity, static_cast<uint32_t>(capacity_512()));
        set_config32(vb::kConfigCapacity + 4, static_cast<uint32_t>(capacity_512() >> 32));
        set_config32(vb::kConfigSegMax, 126);
        set_config32(vb::kConfigBlockSize, block_size);
        clock.on_tick = [this](uint64_t now) {
            if (due_ && now >= *due_) {
                due_.reset();
                process();
            }
        };
    }

    // ---- knobs ----
    uint64_t offered = 0;
    uint16_t max_queue = 128;
    uint32_t latency_us = 0;      // 0: requests complete during notify()
    bool never_complete = false;  // requests are taken but never completed
    bool reset_sticks = false;    // status never returns to 0 after a reset
    bool refuse_features = false; // FEATURES_OK does not stick
    bool get_id_supported = true;
    std::optional<uint8_t> fail_type; // request type answered with `fail_status`
    uint8_t fail_status = vb::kStatusIoError;
    mutable int config_changes = 0; // config generation bumps during the next reads
    std::string serial = "vblk-serial-0042";
    DiskImage disk;

    // ---- observations ----
    uint64_t negotiated = 0;
    std::vector<uint32_t> request_types;
    size_t max_data_length = 0;
    bool queue_enabled = false;
    uint16_t queue_size = 0;

    void set_config32(uint32_t offset, uint32_t value) { std::memcpy(&config_[offset], &value, 4); }
    void set_config8(uint32_t offset, uint8_t value) { config_[offset] = value; }

    // ---- DeviceTransport ----
    uint8_t status() const override { return status_; }
    void write_status(uint8_t status) override {
        if (status == 0) {
            status_ = reset_sticks ? virtio::kStatusDriverOk : 0;
            queue_enabled = false;
            return;
        }
        status_ = status;
    }
    uint64_t device_features() const override { return offered; }
    ErrorOr<void> negotiate(uint64_t features) override {
        negotiated = features;
        EXPECT_EQ(features & ~offered, 0u) << "driver accepted a feature never offered";
        if (!refuse_features)
            add_status(virtio::kStatusFeaturesOk);
        if ((status() & virtio::kStatusFeaturesOk) == 0)
            return Error(ErrorCode::not_supported, "virtio device refused the feature set");
        return {};
    }
    uint16_t max_queue_size(uint16_t queue) const override { return queue == 0 ? max_queue : 0; }
    ErrorOr<void> enable_queue(uint16_t queue, const SplitVirtqueue& ring) override {
        EXPECT_EQ(queue, 0);
        EXPECT_NE(status_ & virtio::kStatusFeaturesOk, 0) << "queue set up before FEATURES_OK";
        queue_size = ring.size();
        desc_ = ring.descriptor_table_address();
        avail_ = ring.available_ring_address();
        used_ = ring.used_ring_address();
        queue_enabled = true;
        return {};
    }
    void notify(uint16_t queue) override {
        EXPECT_EQ(queue, 0);
        EXPECT_NE(status_ & virtio::kStatusDriverOk, 0) << "request before DRIVER_OK";
        if (latency_us == 0)
            process();
        else
            due_ = clock_.now_us + latency_us;
    }
    uint8_t config_generation() const override {
        if (config_changes > 0) {
            --config_changes;
            return ++generation_;
        }
        return generation_;
    }
    uint32_t device_config_length() const override { return config_length; }
    uint8_t device_config8(uint32_t offset) const override { return config_[offset]; }
    uint16_t device_config16(uint32_t offset) const override {
        uint16_t v;
        std::memcpy(&v, &config_[offset], 2);
        return v;
    }
    uint32_t device_config32(uint32_t offset) const override {
        uint32_t v;
        std::memcpy(&v, &config_[offset], 4);
        return v;
    }
    uint32_t config_length = 64;

private:
    struct Segment {
        uint64_t address;
        uint32_t length;
        bool writable;
    };

    uint64_t capacity_512() const { return disk.sectors() * (disk.sector_size() / 512); }
    bool flush_negotiated() const { return (negotiated & vb::kFeatureFlush) != 0; }

    template <typename T>
    T read_dma(uint64_t address) {
        T value{};
        if (uint8_t* p = dma_.at(address, sizeof(T)))
            std::memcpy(&value, p, sizeof(T));
        return value;
    }
    template <typename T>
    void write_dma(uint64_t address, T value) {
        if (uint8_t* p = dma_.at(address, sizeof(T)))
            std::memcpy(p, &value, sizeof(T));
    }

    void process() {
        if (!queue_enabled)
            return;
        const uint16_t avail_index = read_dma<uint16_t>(avail_ + 2);
        while (seen_avail_ != avail_index) {
            const uint16_t head = read_dma<uint16_t>(avail_ + 4 + 2 * (seen_avail_ % queue_size));
            ++seen_avail_;
            if (never_complete)
                continue;
            uint32_t written = 0;
            serve(head, written);
            const uint16_t used_index = read_dma<uint16_t>(used_ + 2);
            const uint64_t element = used_ + 4 + 8 * (used_index % queue_size);
            write_dma<uint32_t>(element, head);
            write_dma<uint32_t>(element + 4, written);
            write_dma<uint16_t>(used_ + 2, static_cast<uint16_t>(used_index + 1));
        }
    }

    void serve(uint16_t head, uint32_t& written) {
        std::vector<Segment> chain;
        uint16_t index = head;
        for (int guard = 0; guard < queue_size; ++guard) {
            const uint64_t d = desc_ + 16 * index;
            const uint16_t flags = read_dma<uint16_t>(d + 12);
            chain.push_back({read_dma<uint64_t>(d), read_dma<uint32_t>(d + 8),
                             (flags & kDescriptorWrite) != 0});
            if ((flags & kDescriptorNext) == 0)
                break;
            index = read_dma<uint16_t>(d + 14);
        }
        ASSERT_GE(chain.size(), 2u) << "a request is at least header + status";
        const Segment& header_segment = chain.front();
        const Segment& status_segment = chain.back();
        ASSERT_FALSE(header_segment.writable) << "the header is device-readable";
        ASSERT_EQ(header_segment.length, 16u);
        ASSERT_TRUE(status_segment.writable) << "the status byte is device-writable";
        ASSERT_EQ(status_segment.length, 1u);
        const uint32_t type = read_dma<uint32_t>(header_segment.address);
        const uint64_t sector = read_dma<uint64_t>(header_segment.address + 8);
        request_types.push_back(type);
        uint8_t status = vb::kStatusOk;
        std::vector<Segment> data(chain.begin() + 1, chain.end() - 1);
        for (const Segment& s : data)
            max_data_length = std::max<size_t>(max_data_length, s.length);
        if (fail_type && *fail_type == type) {
            status = fail_status;
        } else if (type == vb::kTypeIn || type == vb::kTypeOut) {
            status = rw(type == vb::kTypeOut, sector, data, written);
        } else if (type == vb::kTypeFlush && flush_negotiated()) {
            EXPECT_TRUE(data.empty());
            disk.flush();
        } else if (type == vb::kTypeGetId && get_id_supported && data.size() == 1 &&
                   data[0].writable && data[0].length == vb::kIdBytes) {
            std::array<char, vb::kIdBytes> id{};
            std::memcpy(id.data(), serial.data(), std::min(serial.size(), id.size()));
            if (uint8_t* p = dma_.at(data[0].address, id.size()))
                std::memcpy(p, id.data(), id.size());
            written += vb::kIdBytes;
        } else {
            status = vb::kStatusUnsupported;
        }
        write_dma<uint8_t>(status_segment.address, status);
        written += 1;
    }

    uint8_t rw(bool write, uint64_t sector, const std::vector<Segment>& data, uint32_t& written) {
        const uint32_t units = disk.sector_size() / 512;
        EXPECT_EQ(sector % units, 0u) << "request not aligned to the block size";
        uint64_t position = sector * 512;
        for (const Segment& s : data) {
            EXPECT_EQ(s.writable, !write) << "data direction";
            if (s.length % disk.sector_size() != 0)
                return vb::kStatusIoError;
            const uint64_t first = position / disk.sector_size();
            const uint64_t count = s.length / disk.sector_size();
            if (first + count > disk.sectors())
                return vb::kStatusIoError;
            uint8_t* memory = dma_.at(s.address, s.length);
            if (memory == nullptr)
                return vb::kStatusIoError;
            if (write) {
                disk.write(first, memory, count, !flush_negotiated());
            } else {
                disk.read(first, memory, count);
                written += s.length;
            }
            position += s.length;
        }
        return vb::kStatusOk;
    }

    FakeDmaMemory& dma_;
    FakeClock& clock_;
    uint8_t status_ = 0;
    mutable uint8_t generation_ = 0;
    std::array<uint8_t, 64> config_{};
    uint64_t desc_ = 0, avail_ = 0, used_ = 0;
    uint16_t seen_avail_ = 0;
    std::optional<uint64_t> due_;
};

} // namespace halcyon::test
