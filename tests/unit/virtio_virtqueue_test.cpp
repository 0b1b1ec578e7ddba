// The split virtqueue against a fake device that reads the available ring and completes
// buffers through the used ring, as a virtio device does (virtio 1.1, 2.6).
#include "drivers/virtio/virtqueue.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

using namespace halcyon;
using namespace halcyon::drivers;

namespace {

// Ring memory at a fake device address; the device sees it through the same bytes.
struct FakeDevice {
    uint16_t size;
    uint8_t* ring;
    uint64_t base;
    uint16_t seen_avail = 0;
    uint16_t used_index = 0;

    VirtqDescriptor descriptor(uint16_t index) const {
        VirtqDescriptor d;
        std::memcpy(&d, ring + 16 * index, sizeof d);
        return d;
    }
    uint8_t* at(uint64_t device_address) { return ring + (device_address - base); }
    uint16_t avail_index(const SplitVirtqueue& q) {
        uint16_t v;
        std::memcpy(&v, at(q.available_ring_address() + 2), 2);
        return v;
    }
    // Takes the next available descriptor, if any.
    bool next(const SplitVirtqueue& q, uint16_t& id) {
        if (avail_index(q) == seen_avail)
            return false;
        std::memcpy(&id, at(q.available_ring_address() + 4 + 2 * (seen_avail % size)), 2);
        ++seen_avail;
        return true;
    }
    void complete(const SplitVirtqueue& q, uint32_t id, uint32_t length) {
        uint8_t* element = at(q.used_ring_address() + 4 + 8 * (used_index % size));
        std::memcpy(element, &id, 4);
        std::memcpy(element + 4, &length, 4);
        ++used_index;
        std::memcpy(at(q.used_ring_address() + 2), &used_index, 2);
    }
};

struct Ring {
    explicit Ring(uint16_t size) : bytes(SplitVirtqueue::ring_bytes(size) + 16) {
        base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(bytes.data()) + 15) & ~15);
    }
    std::vector<uint8_t> bytes;
    uint8_t* base;
};

TEST(Virtqueue, LayoutFollowsTheSpecAlignments) {
    EXPECT_EQ(SplitVirtqueue::ring_bytes(256), 16u * 256 + 6 + 2 * 256 + 2 + 6 + 8 * 256);
    Ring memory(8);
    auto q = SplitVirtqueue::create(8, memory.base, 0x10000);
    ASSERT_FALSE(q.is_error());
    EXPECT_EQ(q.value().descriptor_table_address(), 0x10000u);
    EXPECT_EQ(q.value().available_ring_address(), 0x10000u + 128);
    EXPECT_EQ(q.value().used_ring_address() % 4, 0u);
    EXPECT_GE(q.value().used_ring_address(), 0x10000u + 128 + 6 + 16);
    EXPECT_TRUE(SplitVirtqueue::create(6, memory.base, 0x10000).is_error()) << "power of two";
    EXPECT_TRUE(SplitVirtqueue::create(8, memory.base, 0x10008).is_error()) << "aligned";
}

TEST(Virtqueue, BuffersTravelToTheDeviceAndBack) {
    Ring memory(4);
    auto created = SplitVirtqueue::create(4, memory.base, 0x4000'0000);
    ASSERT_FALSE(created.is_error());
    SplitVirtqueue q = created.value();
    FakeDevice device{4, memory.base, 0x4000'0000};

    uint16_t handles[4];
    for (int i = 0; i < 4; ++i) {
        auto handle = q.submit(0x9000'0000 + 0x800 * i, 2048, true);
        ASSERT_FALSE(handle.is_error());
        handles[i] = handle.value();
    }
    EXPECT_EQ(q.free_descriptors(), 0);
    EXPECT_TRUE(q.submit(0x1234, 1, false).is_error()) << "full queue is busy";
    EXPECT_FALSE(q.take_used().has_value()) << "nothing completed yet";

    for (int i = 0; i < 4; ++i) {
        uint16_t id;
        ASSERT_TRUE(device.next(q, id));
        EXPECT_EQ(id, handles[i]);
        const VirtqDescriptor d = device.descriptor(id);
        EXPECT_EQ(d.address, 0x9000'0000u + 0x800 * i);
        EXPECT_EQ(d.length, 2048u);
        EXPECT_EQ(d.flags, kDescriptorWrite);
    }
    uint16_t extra;
    EXPECT_FALSE(device.next(q, extra));

    // Out-of-order completion, as devices may do.
    device.complete(q, handles[2], 60);
    device.complete(q, handles[0], 1514);
    auto first = q.take_used();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->descriptor, handles[2]);
    EXPECT_EQ(first->length, 60u);
    auto second = q.take_used();
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->descriptor, handles[0]);
    EXPECT_FALSE(q.take_used().has_value());
    EXPECT_EQ(q.free_descriptors(), 2);

    // Freed descriptors are reused; a transmit buffer is device-readable.
    auto again = q.submit(0x7000, 100, false);
    ASSERT_FALSE(again.is_error());
    uint16_t id;
    ASSERT_TRUE(device.next(q, id));
    EXPECT_EQ(id, again.value());
    EXPECT_EQ(device.descriptor(id).flags, 0);
    EXPECT_EQ(device.descriptor(id).length, 100u);
}

TEST(Virtqueue, IndicesWrapAroundSixteenBits) {
    Ring memory(2);
    SplitVirtqueue q = SplitVirtqueue::create(2, memory.base, 0x8000).value();
    FakeDevice device{2, memory.base, 0x8000};
    for (uint32_t round = 0; round < 70000; ++round) {
        const uint16_t handle = q.submit(0x100000 + round, 64, false).value();
        uint16_t id;
        ASSERT_TRUE(device.next(q, id)) << round;
        ASSERT_EQ(id, handle);
        device.complete(q, id, 0);
        auto used = q.take_used();
        ASSERT_TRUE(used.has_value()) << round;
        ASSERT_EQ(used->descriptor, handle);
    }
    EXPECT_EQ(q.free_descriptors(), 2);
}

TEST(Virtqueue, IgnoresAnIdTheDeviceNeverGot) {
    Ring memory(4);
    SplitVirtqueue q = SplitVirtqueue::create(4, memory.base, 0x8000).value();
    FakeDevice device{4, memory.base, 0x8000};
    (void)q.submit(0x1000, 64, true).value();
    device.complete(q, 9, 10); // out of range
    EXPECT_FALSE(q.take_used().has_value());
    EXPECT_EQ(q.free_descriptors(), 3) << "free list not corrupted";
}

} // namespace
