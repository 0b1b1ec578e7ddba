// GPADLs as Linux creates them (one GPADL_HEADER with 26 pfns, GPADL_BODY messages with 28
// each), their teardown, and their validation: ranges, sizes, guest RAM, per-VM limits.
#include "tests/unit/vmbus_linux_guest.hpp"

#include <memory>

namespace vmbus_test {
namespace {

struct VmbusGpadls : ::testing::Test {
    FakeGuestMemory mem{1ull << 30};
    FakeSynic synic;
    RecordingLog log;
    std::unique_ptr<VmbusHost> host;
    EchoDevice disk{0x10};
    std::unique_ptr<LinuxGuest> guest;
    std::vector<Offer> offers;

    void SetUp() override {
        host = std::make_unique<VmbusHost>(mem, synic, log, VmbusHostConfig{2});
        ASSERT_FALSE(host->add_device(disk).is_error());
        guest = std::make_unique<LinuxGuest>(*host, mem, synic);
        offers = guest->boot();
        ASSERT_EQ(offers.size(), 1u);
    }
    uint32_t relid() const { return offers[0].relid; }

    // A GPADL_HEADER carrying raw range bytes.
    void post_header(uint32_t gpadl, uint16_t range_buflen, uint16_t rangecount,
                     const std::vector<uint64_t>& entries, uint32_t for_relid = 0) {
        std::vector<uint8_t> msg(sizeof(linux_abi::gpadl_header) + entries.size() * 8);
        linux_abi::gpadl_header header{{linux_abi::GPADL_HEADER, 0},
                                       for_relid == 0 ? relid() : for_relid,
                                       gpadl,
                                       range_buflen,
                                       rangecount};
        std::memcpy(msg.data(), &header, sizeof(header));
        std::memcpy(msg.data() + sizeof(header), entries.data(), entries.size() * 8);
        EXPECT_EQ(guest->post_bytes(msg), hv::PortStatus::success);
    }
    uint32_t created_status(uint32_t gpadl) {
        auto created = guest->expect<linux_abi::gpadl_created>(linux_abi::GPADL_CREATED);
        EXPECT_EQ(created.gpadl, gpadl);
        return created.creation_status;
    }
    static uint64_t range(uint32_t count, uint32_t offset) {
        return uint64_t{offset} << 32 | count;
    }
};

TEST_F(VmbusGpadls, SingleMessageGpadlIsCreated) {
    uint32_t handle = 0;
    EXPECT_EQ(guest->establish_gpadl(relid(), guest->contiguous(8), handle), 0u);
    EXPECT_EQ(handle, 0xE1E10u);
    EXPECT_EQ(host->gpadls().count(), 1u);
}

TEST_F(VmbusGpadls, MultiMessageGpadlKeepsEveryPfnInOrder) {
    for (uint64_t pages : {27u, 26u + 28u, 26u + 28u + 1u, 1000u, 4096u}) {
        std::vector<uint64_t> pfns(pages);
        for (uint64_t i = 0; i < pages; ++i)
            pfns[i] = 0x1000 + (i * 7919) % 60000; // scattered, as vmalloc'ed buffers are
        uint32_t handle = 0;
        ASSERT_EQ(guest->establish_gpadl(relid(), pfns, handle), 0u) << pages;
        int32_t slot = host->gpadls().find(handle);
        ASSERT_GE(slot, 0);
        auto entries = host->gpadls().entries(static_cast<uint32_t>(slot));
        ASSERT_EQ(entries.size(), pages + 1);
        EXPECT_EQ(entries[0], range(static_cast<uint32_t>(pages * kPage), 0));
        for (uint64_t i = 0; i < pages; ++i)
            ASSERT_EQ(entries[1 + i], pfns[i]) << pages << " " << i;
        EXPECT_EQ(guest->teardown_gpadl(relid(), handle), handle);
    }
    EXPECT_EQ(host->gpadls().count(), 0u);
    EXPECT_EQ(host->gpadls().pool_entries_used(), 0u);
}

TEST_F(VmbusGpadls, MultiRangeGpadlWithOffsetsIsAccepted) {
    // Two ranges: 100 bytes at offset 0xFC0 (crossing into a second page), 3 pages exactly.
    std::vector<uint64_t> entries = {
        range(100, 0xFC0), 0x2000, 0x2001, range(3 * kPage, 0), 0x3000, 0x3001, 0x3002};
    post_header(0x77, static_cast<uint16_t>(entries.size() * 8), 2, entries);
    EXPECT_EQ(created_status(0x77), 0u);
}

TEST_F(VmbusGpadls, TeardownOfAnUnknownGpadlIsRefusedWithoutAnswer) {
    EXPECT_EQ(guest->teardown_gpadl(relid(), 0x1234), 0u);
    EXPECT_TRUE(log.contains("GPADL_TEARDOWN refused"));
}

TEST_F(VmbusGpadls, PagesOutsideGuestRamAreRefused) {
    uint32_t handle = 0;
    std::vector<uint64_t> pfns = guest->contiguous(30);
    pfns[28] = mem.size() / kPage; // first page past the end, in a GPADL_BODY
    EXPECT_NE(guest->establish_gpadl(relid(), pfns, handle), 0u);
    EXPECT_TRUE(log.contains("outside guest RAM"));
    pfns[28] = ~0ull; // would wrap if shifted
    EXPECT_NE(guest->establish_gpadl(relid(), pfns, handle), 0u);
    mem.holes.insert(0x5000);
    pfns[28] = 0x5000; // a hole inside RAM (an MMIO gap)
    EXPECT_NE(guest->establish_gpadl(relid(), pfns, handle), 0u);
    EXPECT_EQ(host->gpadls().count(), 0u);
}

TEST_F(VmbusGpadls, InconsistentRangeListsAreRefused) {
    // Range claims 3 pages, only 2 pfns in the buffer.
    post_header(1, 24, 1, {range(3 * kPage, 0), 0x2000, 0x2001});
    EXPECT_NE(created_status(1), 0u);
    // Buffer longer than its ranges (trailing entry).
    post_header(2, 32, 1, {range(kPage, 0), 0x2000, 0x2001, 0x2002});
    EXPECT_NE(created_status(2), 0u);
    // Byte offset outside the first page.
    post_header(3, 24, 1, {range(10, 0x1000), 0x2000, 0x2001});
    EXPECT_NE(created_status(3), 0u);
    // Zero bytes.
    post_header(4, 16, 1, {range(0, 0), 0x2000});
    EXPECT_NE(created_status(4), 0u);
    // Range count 0, huge range count, buffer not whole entries, buffer too small for ranges.
    post_header(5, 16, 0, {range(kPage, 0), 0x2000});
    EXPECT_NE(created_status(5), 0u);
    post_header(6, 16, 0xFFFF, {range(kPage, 0), 0x2000});
    EXPECT_NE(created_status(6), 0u);
    post_header(7, 17, 1, {range(kPage, 0), 0x2000});
    EXPECT_NE(created_status(7), 0u);
    post_header(8, 24, 2, {range(kPage, 0), 0x2000, 0x2001});
    EXPECT_NE(created_status(8), 0u);
    // byte_count + offset overflowing 32 bits.
    post_header(9, 24, 1, {range(0xFFFFFFFF, 0xFFF), 0x2000, 0x2001});
    EXPECT_NE(created_status(9), 0u);
    EXPECT_EQ(host->gpadls().count(), 0u);
    EXPECT_GE(host->stats().refusals, 9u);
}

TEST_F(VmbusGpadls, DuplicateIdsAndUnknownRelidsAreRefused) {
    uint32_t handle = 0;
    ASSERT_EQ(guest->establish_gpadl(relid(), guest->contiguous(2), handle), 0u);
    post_header(handle, 16, 1, {range(kPage, 0), 0x2000});
    EXPECT_NE(created_status(handle), 0u);
    post_header(0x99, 16, 1, {range(kPage, 0), 0x2000}, 42);
    auto created = guest->expect<linux_abi::gpadl_created>(linux_abi::GPADL_CREATED);
    EXPECT_EQ(created.child_relid, 42u);
    EXPECT_NE(created.creation_status, 0u);
    EXPECT_EQ(host->gpadls().count(), 1u);
}

TEST_F(VmbusGpadls, BodiesForUnknownOrCompleteGpadlsAreRefused) {
    std::vector<uint8_t> body(sizeof(linux_abi::gpadl_body) + 8);
    linux_abi::gpadl_body fixed{{linux_abi::GPADL_BODY, 0}, 0, 0xABC};
    std::memcpy(body.data(), &fixed, sizeof(fixed));
    EXPECT_EQ(guest->post_bytes(body), hv::PortStatus::success);
    uint32_t handle = 0;
    ASSERT_EQ(guest->establish_gpadl(relid(), guest->contiguous(2), handle), 0u);
    fixed.gpadl = handle;
    std::memcpy(body.data(), &fixed, sizeof(fixed));
    EXPECT_EQ(guest->post_bytes(body), hv::PortStatus::success);
    EXPECT_FALSE(guest->has_message());
    EXPECT_EQ(log.count("GPADL_BODY refused"), 2u);
}

TEST_F(VmbusGpadls, ExtraBytesPastTheAnnouncedRangesAreIgnored) {
    // Some guests (UEFI) always post full 240-byte messages.
    std::vector<uint64_t> entries(27, 0);
    entries[0] = range(kPage, 0);
    entries[1] = 0x2000;
    post_header(0x55, 16, 1, entries);
    EXPECT_EQ(created_status(0x55), 0u);
}

TEST_F(VmbusGpadls, TheGpadlCountLimitHolds) {
    uint32_t created = 0;
    for (uint32_t i = 0; i < kMaxGpadls + 5; ++i) {
        uint32_t handle = 0;
        created += guest->establish_gpadl(relid(), {0x2000 + i}, handle) == 0 ? 1 : 0;
    }
    EXPECT_EQ(created, kMaxGpadls);
    EXPECT_TRUE(log.contains("too many GPADLs"));
}

TEST_F(VmbusGpadls, ThePoolLimitHoldsAndFreedSpaceIsReused) {
    // Each GPADL of 8190 pages fills 8191 entries; the pool takes 8 of them.
    std::vector<uint64_t> pfns = guest->contiguous(8190);
    std::vector<uint32_t> handles;
    for (int i = 0; i < 9; ++i) {
        uint32_t handle = 0;
        if (guest->establish_gpadl(relid(), pfns, handle) == 0)
            handles.push_back(handle);
    }
    EXPECT_EQ(handles.size(), kGpadlPoolEntries / 8191);
    EXPECT_TRUE(log.contains("pool"));
    EXPECT_EQ(guest->teardown_gpadl(relid(), handles[3]), handles[3]);
    uint32_t handle = 0;
    EXPECT_EQ(guest->establish_gpadl(relid(), pfns, handle), 0u) << "the hole is reused";
}

TEST_F(VmbusGpadls, AGpadlLargerThanTheHeaderCanDescribeIsRefused) {
    // range_buflen is 16 bits: a 9000-page GPADL cannot be announced correctly.
    std::vector<uint64_t> pfns = guest->contiguous(9000);
    uint32_t handle = 0;
    EXPECT_NE(guest->establish_gpadl(relid(), pfns, handle), 0u);
    EXPECT_EQ(host->gpadls().count(), 0u);
}

TEST_F(VmbusGpadls, GpadlsOfAChannelGoWithItsRescind) {
    uint32_t handle = 0;
    ASSERT_EQ(guest->establish_gpadl(relid(), guest->contiguous(4), handle), 0u);
    ASSERT_FALSE(host->rescind_device(disk).is_error());
    guest->expect<linux_abi::relid_only>(linux_abi::RESCIND_CHANNELOFFER);
    post_header(0x500, 16, 1, {range(kPage, 0), 0x2000});
    EXPECT_NE(created_status(0x500), 0u) << "no new GPADL for a rescinded channel";
    linux_abi::relid_only release{{linux_abi::RELID_RELEASED, 0}, relid()};
    EXPECT_EQ(guest->post(release), hv::PortStatus::success);
    EXPECT_EQ(host->gpadls().count(), 0u);
}

} // namespace
} // namespace vmbus_test
