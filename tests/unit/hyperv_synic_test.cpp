// The SynIC of one virtual processor (vmm/hyperv/synic.hpp, vp_synic.hpp), TLFS
// "Inter-Partition Communication": every MSR, message slots (empty/busy, MessagePending,
// the guest racing the header word), the bounded queue and its delivery on EOM, event flags,
// AutoEOI vectors; and the small parts under it (InterruptVectors, MessageQueue,
// ConnectionTable).
#include "hyperv_test_support.hpp"
#include "vmm/hyperv/connection_table.hpp"
#include "vmm/hyperv/synic.hpp"
#include "vmm/hyperv/tlfs.hpp"
#include "vmm/hyperv/vp_synic.hpp"

#include <array>
#include <gtest/gtest.h>
#include <memory>
#include <vector>

namespace halcyon::vmm::hyperv {
namespace {

constexpr uint64_t kSimp = 0x10000;
constexpr uint64_t kSiefp = 0x11000;
constexpr uint8_t kVector = 0x50;

std::vector<int> vectors_of(const InterruptVectors& set) {
    std::vector<int> out;
    for (int v = set.next(0); v >= 0; v = set.next(v + 1))
        out.push_back(v);
    return out;
}

std::array<uint8_t, 3> bytes3(uint8_t a, uint8_t b, uint8_t c) {
    return {a, b, c};
}

// A SynIC as Linux's hv_synic_enable_regs leaves it: SIMP and SIEFP set, SINT2 unmasked.
class SynicTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(write(msr::kSimp, kSimp | 1));
        ASSERT_TRUE(write(msr::kSiefp, kSiefp | 1));
        ASSERT_TRUE(write(msr::kSint0 + 2, kVector));
        ASSERT_TRUE(write(msr::kScontrol, 1));
        raise = {};
    }
    bool write(uint32_t msr, uint64_t value) {
        return vp.write_msr(msr, value, /*now=*/1000, ram, raise);
    }
    uint64_t read(uint32_t msr) {
        uint64_t value = 0xBAD;
        EXPECT_TRUE(vp.read_msr(msr, value)) << std::hex << msr;
        return value;
    }
    uint64_t slot_header(uint8_t sint) { return ram.load<uint64_t>(kSimp + sint * 256u); }
    uint32_t slot_type(uint8_t sint) { return ram.load<uint32_t>(kSimp + sint * 256u); }
    void guest_empties_slot(uint8_t sint) { ram.store<uint32_t>(kSimp + sint * 256u, 0); }
    bool pending_flag(uint8_t sint) { return (ram.load<uint8_t>(kSimp + sint * 256u + 5) & 1); }
    DeliveryResult post(uint8_t sint, uint32_t type, uint8_t tag) {
        const auto payload = bytes3(tag, tag, tag);
        return vp.post_message(sint, type, payload, ram, raise);
    }

    VpSynic vp;
    test::FakeGuestRam ram{test::kTestRamSize};
    InterruptVectors raise;
};

// --- MSRs ---

TEST(SynicMsrs, ClaimsTheSynicAndTimerMsrs) {
    for (uint32_t msr = 0x4000'0080; msr <= 0x4000'0084; ++msr)
        EXPECT_TRUE(Synic::claims_msr(msr)) << std::hex << msr;
    for (uint32_t msr = 0x4000'0090; msr <= 0x4000'009F; ++msr)
        EXPECT_TRUE(Synic::claims_msr(msr)) << std::hex << msr;
    for (uint32_t msr : {0x4000'007Fu, 0x4000'0085u, 0x4000'008Fu, 0x4000'00A0u, 0x4000'00B0u})
        EXPECT_FALSE(Synic::claims_msr(msr)) << std::hex << msr;
    for (uint32_t msr = 0x4000'00B0; msr <= 0x4000'00B7; ++msr)
        EXPECT_TRUE(VpSynic::claims_msr(msr)) << std::hex << msr;
    EXPECT_FALSE(VpSynic::claims_msr(0x4000'00B8));
    EXPECT_FALSE(VpSynic::claims_msr(0x4000'00AF));
}

TEST(SynicMsrs, ResetValues) {
    VpSynic vp;
    uint64_t value = 0xBAD;
    for (uint32_t msr : {msr::kScontrol, msr::kSiefp, msr::kSimp, msr::kEom}) {
        ASSERT_TRUE(vp.read_msr(msr, value));
        EXPECT_EQ(value, 0u) << std::hex << msr;
    }
    ASSERT_TRUE(vp.read_msr(msr::kSversion, value));
    EXPECT_EQ(value, 1u) << "SynIC version 1";
    for (uint32_t sint = 0; sint < 16; ++sint) {
        ASSERT_TRUE(vp.read_msr(msr::kSint0 + sint, value));
        EXPECT_EQ(value, 0x10000u) << "masked, TLFS creation value";
    }
    for (uint32_t msr = 0x4000'00B0; msr <= 0x4000'00B7; ++msr) {
        ASSERT_TRUE(vp.read_msr(msr, value));
        EXPECT_EQ(value, 0u);
    }
}

TEST_F(SynicTest, ScontrolKeepsReservedBits) {
    EXPECT_TRUE(write(msr::kScontrol, 0xF0F0'0000'0000'0001));
    EXPECT_EQ(read(msr::kScontrol), 0xF0F0'0000'0000'0001u) << "bits 63:1 are RsvdP";
    EXPECT_TRUE(vp.synic().enabled());
    EXPECT_TRUE(write(msr::kScontrol, 0xF0F0'0000'0000'0000));
    EXPECT_FALSE(vp.synic().enabled());
}

TEST_F(SynicTest, SversionIsReadOnly) {
    EXPECT_FALSE(write(msr::kSversion, 1));
    EXPECT_FALSE(write(msr::kSversion, 0));
    EXPECT_EQ(read(msr::kSversion), 1u);
}

TEST_F(SynicTest, EomReadsZeroAndOnlyAcceptsZero) {
    EXPECT_EQ(read(msr::kEom), 0u);
    EXPECT_TRUE(write(msr::kEom, 0));
    EXPECT_FALSE(write(msr::kEom, 1)) << "RsvdZ";
    EXPECT_FALSE(write(msr::kEom, 0x8000'0000'0000'0000));
}

TEST(SynicPages, EnablingZeroesThePageAndKeepsReservedBits) {
    VpSynic vp;
    test::FakeGuestRam ram{test::kTestRamSize}; // filled with 0xCC
    InterruptVectors raise;
    ASSERT_TRUE(vp.write_msr(msr::kSimp, kSimp | 0xFFE | 1, 0, ram, raise));
    uint64_t value = 0;
    ASSERT_TRUE(vp.read_msr(msr::kSimp, value));
    EXPECT_EQ(value, kSimp | 0xFFF) << "bits 11:1 are RsvdP";
    for (uint8_t byte : ram.page(kSimp))
        ASSERT_EQ(byte, 0) << "the SIM page appears zeroed";
    ASSERT_TRUE(vp.write_msr(msr::kSiefp, kSiefp | 1, 0, ram, raise));
    for (uint8_t byte : ram.page(kSiefp))
        ASSERT_EQ(byte, 0);
    EXPECT_EQ(ram.calls, 2);
    // Rewriting the same enabled page keeps what is in it (messages must not vanish).
    ram.store<uint32_t>(kSimp, 0x1234);
    ASSERT_TRUE(vp.write_msr(msr::kSimp, kSimp | 1, 0, ram, raise));
    EXPECT_EQ(ram.load<uint32_t>(kSimp), 0x1234u);
    // Moving it zeroes the new page.
    ASSERT_TRUE(vp.write_msr(msr::kSimp, 0x20000 | 1, 0, ram, raise));
    EXPECT_EQ(ram.calls, 3);
    // Disabling touches nothing; a page outside RAM is accepted (not accessible, no #GP).
    ASSERT_TRUE(vp.write_msr(msr::kSimp, 0x20000, 0, ram, raise));
    EXPECT_EQ(ram.calls, 3);
    EXPECT_TRUE(vp.write_msr(msr::kSimp, (uint64_t{1} << 40) | 1, 0, ram, raise));
    EXPECT_TRUE(vp.write_msr(msr::kSiefp, (uint64_t{1} << 40) | 1, 0, ram, raise));
}

TEST_F(SynicTest, SintVectorValidation) {
    const uint32_t sint5 = msr::kSint0 + 5;
    EXPECT_FALSE(write(sint5, 15)) << "unmasked exception vector: #GP";
    EXPECT_FALSE(write(sint5, 0)) << "unmasked vector 0";
    EXPECT_FALSE(write(sint5, 0x4000F)) << "polling does not make vector 15 valid";
    EXPECT_EQ(read(sint5), 0x10000u) << "nothing changed";
    EXPECT_TRUE(write(sint5, 16));
    EXPECT_TRUE(write(sint5, 255));
    EXPECT_TRUE(write(sint5, 0x10000)) << "masked with vector 0 (the reset value) is fine";
    EXPECT_TRUE(write(sint5, 0x1000F)) << "masked with any vector";
}

TEST_F(SynicTest, SintKeepsEveryFieldAndReservedBit) {
    const uint32_t sint7 = msr::kSint0 + 7;
    const uint64_t value = 0xFFFF'FFFF'FFF8'0000 | (1u << 18) | (1u << 17) | 0xAB00 | 0x42;
    EXPECT_TRUE(write(sint7, value));
    EXPECT_EQ(read(sint7), value) << "bits 15:8 and 63:19 are RsvdP";
    EXPECT_FALSE(vp.synic().sint_masked(7));
    EXPECT_TRUE(write(sint7, 0x10042));
    EXPECT_TRUE(vp.synic().sint_masked(7));
    EXPECT_TRUE(write(sint7, 0x50042)) << "masked + polling";
    EXPECT_FALSE(vp.synic().sint_masked(7)) << "polling unmasks (TLFS)";
}

TEST_F(SynicTest, AutoEoiVectorsAreThoseOfUnmaskedAutoEoiSints) {
    EXPECT_TRUE(vp.auto_eoi_vectors().empty());
    ASSERT_TRUE(write(msr::kSint0 + 2, kVector | (1u << 17)));
    ASSERT_TRUE(write(msr::kSint0 + 3, 0x60 | (1u << 17) | (1u << 16))); // masked
    ASSERT_TRUE(write(msr::kSint0 + 4, 0x70));                           // no AutoEOI
    ASSERT_TRUE(write(msr::kSint0 + 9, 0x90 | (1u << 17)));
    EXPECT_EQ(vectors_of(vp.auto_eoi_vectors()), (std::vector<int>{kVector, 0x90}));
    ASSERT_TRUE(write(msr::kSint0 + 9, 0x90 | (1u << 17) | (1u << 16)));
    EXPECT_EQ(vectors_of(vp.auto_eoi_vectors()), (std::vector<int>{kVector}));
}

// --- messages ---

TEST_F(SynicTest, MessageGoesIntoTheEmptySlotAndAssertsTheSint) {
    const uint8_t payload[5] = {1, 2, 3, 4, 5};
    ram.store<uint64_t>(kSimp + 2 * 256 + 8, 0xFFFF'FFFF'FFFF'FFFF); // stale origin
    EXPECT_EQ(vp.post_message(2, 0x42, payload, ram, raise), DeliveryResult::delivered);
    EXPECT_EQ(slot_header(2), 0x42u | (uint64_t{5} << 32)) << "type, size, no flags";
    EXPECT_EQ(ram.load<uint64_t>(kSimp + 2 * 256 + 8), 0u) << "origination id";
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(ram.load<uint8_t>(kSimp + 2 * 256 + 16 + i), payload[i]);
    EXPECT_EQ(vectors_of(raise), (std::vector<int>{kVector}));
    EXPECT_EQ(slot_type(0), 0u) << "other slots untouched";
}

TEST_F(SynicTest, FullSizePayload) {
    std::array<uint8_t, 240> payload{};
    for (size_t i = 0; i < payload.size(); ++i)
        payload[i] = static_cast<uint8_t>(i + 1);
    EXPECT_EQ(vp.post_message(2, 7, payload, ram, raise), DeliveryResult::delivered);
    EXPECT_EQ(ram.load<uint8_t>(kSimp + 2 * 256 + 4), 240u);
    EXPECT_EQ(ram.load<uint8_t>(kSimp + 2 * 256 + 255), 240u);
    EXPECT_EQ(ram.load<uint8_t>(kSimp + 3 * 256), 0u) << "nothing beyond the slot";
    std::array<uint8_t, 241> too_big{};
    EXPECT_EQ(vp.post_message(2, 7, too_big, ram, raise), DeliveryResult::not_enabled);
}

TEST_F(SynicTest, BusySlotQueuesAndSetsMessagePending) {
    EXPECT_EQ(post(2, 1, 0xA1), DeliveryResult::delivered);
    raise = {};
    EXPECT_FALSE(pending_flag(2));
    EXPECT_EQ(post(2, 2, 0xA2), DeliveryResult::queued);
    EXPECT_TRUE(pending_flag(2)) << "the guest must write EOM after emptying the slot";
    EXPECT_EQ(slot_type(2), 1u) << "the first message stays";
    EXPECT_TRUE(raise.empty()) << "no interrupt for a queued message";
    EXPECT_EQ(post(2, 3, 0xA3), DeliveryResult::queued);
    EXPECT_EQ(vp.synic().queue().count(2), 2u);

    // EOM without emptying the slot: nothing moves.
    EXPECT_TRUE(write(msr::kEom, 0));
    EXPECT_EQ(slot_type(2), 1u);
    EXPECT_TRUE(raise.empty());

    // The guest's handler: empty the slot, see MessagePending, EOM -> the next one, in order,
    // still flagged because a third one waits.
    guest_empties_slot(2);
    EXPECT_TRUE(write(msr::kEom, 0));
    EXPECT_EQ(slot_type(2), 2u);
    EXPECT_EQ(ram.load<uint8_t>(kSimp + 2 * 256 + 16), 0xA2);
    EXPECT_TRUE(pending_flag(2)) << "one more waits";
    EXPECT_EQ(vectors_of(raise), (std::vector<int>{kVector}));
    raise = {};
    guest_empties_slot(2);
    EXPECT_TRUE(write(msr::kEom, 0));
    EXPECT_EQ(slot_type(2), 3u);
    EXPECT_FALSE(pending_flag(2)) << "the queue is empty now";
    EXPECT_EQ(vp.synic().queue().size(), 0u);
    guest_empties_slot(2);
    EXPECT_TRUE(write(msr::kEom, 0)) << "EOM with empty queues is a no-op";
    EXPECT_EQ(slot_type(2), 0u);
}

TEST_F(SynicTest, QueueIsBoundedAndNeverDropsSilently) {
    ASSERT_EQ(post(2, 1, 0), DeliveryResult::delivered);
    for (uint32_t i = 0; i < MessageQueue::kCapacity; ++i)
        ASSERT_EQ(post(2, 100 + i, static_cast<uint8_t>(i)), DeliveryResult::queued) << i;
    EXPECT_EQ(post(2, 999, 0), DeliveryResult::queue_full);
    EXPECT_EQ(vp.synic().queue().size(), MessageQueue::kCapacity);
    // Drain: every queued message arrives, in posting order.
    for (uint32_t i = 0; i < MessageQueue::kCapacity; ++i) {
        guest_empties_slot(2);
        ASSERT_TRUE(write(msr::kEom, 0));
        EXPECT_EQ(slot_type(2), 100 + i);
    }
    EXPECT_EQ(vp.synic().queue().size(), 0u);
}

TEST_F(SynicTest, PostingBehindQueuedMessagesKeepsTheOrder) {
    ASSERT_EQ(post(2, 1, 0), DeliveryResult::delivered);
    ASSERT_EQ(post(2, 2, 0), DeliveryResult::queued);
    guest_empties_slot(2); // but no EOM yet
    // A new post: the queued one goes first (TLFS: another buffer queued triggers a scan).
    EXPECT_EQ(post(2, 3, 0), DeliveryResult::queued);
    EXPECT_EQ(slot_type(2), 2u);
    EXPECT_TRUE(pending_flag(2));
    guest_empties_slot(2);
    ASSERT_TRUE(write(msr::kEom, 0));
    EXPECT_EQ(slot_type(2), 3u);
}

TEST_F(SynicTest, QueuesArePerSint) {
    ASSERT_TRUE(write(msr::kSint0 + 5, 0x55));
    ASSERT_EQ(post(2, 1, 0), DeliveryResult::delivered);
    ASSERT_EQ(post(2, 2, 0), DeliveryResult::queued);
    raise = {};
    EXPECT_EQ(post(5, 9, 0), DeliveryResult::delivered) << "SINT5's slot is free";
    EXPECT_EQ(vectors_of(raise), (std::vector<int>{0x55}));
    EXPECT_EQ(slot_type(5), 9u);
}

TEST_F(SynicTest, NotEnabledCases) {
    ASSERT_TRUE(write(msr::kSint0 + 4, 0x10044)); // masked
    EXPECT_EQ(post(4, 1, 0), DeliveryResult::not_enabled) << "masked SINT";
    ASSERT_TRUE(write(msr::kSint0 + 4, 0x50044)); // masked + polling
    EXPECT_EQ(post(4, 1, 0), DeliveryResult::delivered) << "polling: delivered";
    EXPECT_TRUE(raise.empty()) << "but no interrupt";
    EXPECT_EQ(post(16, 1, 0), DeliveryResult::not_enabled) << "no SINT 16";

    ASSERT_TRUE(write(msr::kSimp, kSimp)); // SIM page disabled
    EXPECT_EQ(post(2, 1, 0), DeliveryResult::not_enabled);
    ASSERT_TRUE(write(msr::kSimp, kSimp | 1));
    ASSERT_TRUE(write(msr::kScontrol, 0)); // SynIC disabled
    EXPECT_EQ(post(2, 1, 0), DeliveryResult::not_enabled);
    EXPECT_EQ(vp.signal_event(2, 1, ram, raise), DeliveryResult::not_enabled);
    ASSERT_TRUE(write(msr::kScontrol, 1));
    ram.hole = kSimp; // the SIM page is not RAM
    EXPECT_EQ(post(2, 1, 0), DeliveryResult::not_enabled);
}

TEST_F(SynicTest, QueuedMessagesWaitWhileTheSimPageIsDisabledAndGoWhenItReturns) {
    ASSERT_EQ(post(2, 1, 0), DeliveryResult::delivered);
    ASSERT_EQ(post(2, 2, 0), DeliveryResult::queued);
    ASSERT_TRUE(write(msr::kSimp, kSimp));
    guest_empties_slot(2);
    ASSERT_TRUE(write(msr::kEom, 0));
    EXPECT_EQ(vp.synic().queue().count(2), 1u) << "stays queued (TLFS)";
    ASSERT_TRUE(write(msr::kSimp, 0x30000 | 1)); // a new (zeroed) page
    EXPECT_EQ(ram.load<uint32_t>(0x30000 + 2 * 256), 2u) << "delivered once the page is back";
    EXPECT_EQ(vp.synic().queue().count(2), 0u);
}

TEST_F(SynicTest, MaskedSintStillDrainsOnEomWithoutInterrupts) {
    ASSERT_EQ(post(2, 1, 0), DeliveryResult::delivered);
    ASSERT_EQ(post(2, 2, 0), DeliveryResult::queued);
    raise = {};
    ASSERT_TRUE(write(msr::kSint0 + 2, 0x10000 | kVector));
    guest_empties_slot(2);
    ASSERT_TRUE(write(msr::kEom, 0));
    EXPECT_EQ(slot_type(2), 2u) << "TLFS: EOM drains the queue of a masked SINT";
    EXPECT_TRUE(raise.empty()) << "the interrupt of a masked SINT is lost";
}

TEST_F(SynicTest, GuestEmptyingTheSlotDuringThePendingUpdateIsNotLost) {
    ASSERT_EQ(post(2, 1, 0), DeliveryResult::delivered);
    raise = {};
    // The guest clears the type right between the SynIC's load and its compare-exchange: the
    // exchange fails, the SynIC sees the empty slot and delivers instead of flagging.
    int races = 0;
    ram.before_atomic = [&](uint64_t address) {
        if (address == kSimp + 2 * 256 && races++ == 0)
            guest_empties_slot(2);
    };
    EXPECT_EQ(post(2, 2, 0xB2), DeliveryResult::delivered);
    EXPECT_EQ(slot_type(2), 2u);
    EXPECT_FALSE(pending_flag(2));
    EXPECT_EQ(vectors_of(raise), (std::vector<int>{kVector}));
    EXPECT_EQ(vp.synic().queue().size(), 0u);
}

TEST_F(SynicTest, GuestClearingTheTypeKeepsThePendingFlag) {
    // The guest's 32-bit store of HvMessageTypeNone leaves byte 5 alone: MessagePending set by
    // the SynIC survives and tells the guest to write EOM.
    ASSERT_EQ(post(2, 1, 0), DeliveryResult::delivered);
    ASSERT_EQ(post(2, 2, 0), DeliveryResult::queued);
    guest_empties_slot(2);
    EXPECT_TRUE(pending_flag(2));
}

TEST_F(SynicTest, AGuestThatKeepsRewritingTheHeaderOnlyDelaysItself) {
    ASSERT_EQ(post(2, 1, 0), DeliveryResult::delivered);
    uint32_t flip = 0;
    ram.before_atomic = [&](uint64_t address) {
        ram.store<uint64_t>(address, 0x100 + flip++); // a different non-empty header each time
    };
    EXPECT_EQ(post(2, 2, 0), DeliveryResult::queued) << "bounded retries, then queued";
    ram.before_atomic = nullptr;
}

// --- event flags ---

TEST_F(SynicTest, EventFlagSetsTheBitAndAssertsOnlyWhenItWasClear) {
    EXPECT_EQ(vp.signal_event(2, 0, ram, raise), DeliveryResult::delivered);
    EXPECT_EQ(ram.load<uint8_t>(kSiefp + 2 * 256), 1u);
    EXPECT_EQ(vectors_of(raise), (std::vector<int>{kVector}));
    raise = {};
    EXPECT_EQ(vp.signal_event(2, 0, ram, raise), DeliveryResult::delivered);
    EXPECT_TRUE(raise.empty()) << "already set: no new interrupt";
    EXPECT_EQ(vp.signal_event(2, 77, ram, raise), DeliveryResult::delivered);
    EXPECT_EQ(ram.load<uint8_t>(kSiefp + 2 * 256 + 77 / 8), 1u << (77 % 8));
    EXPECT_EQ(vectors_of(raise), (std::vector<int>{kVector}));
    EXPECT_EQ(vp.signal_event(2, 2047, ram, raise), DeliveryResult::delivered);
    EXPECT_EQ(ram.load<uint8_t>(kSiefp + 2 * 256 + 255), 0x80u) << "the last flag of SINT2";
    EXPECT_EQ(ram.load<uint8_t>(kSiefp + 3 * 256), 0u) << "SINT3's block untouched";
    EXPECT_EQ(vp.signal_event(2, 2048, ram, raise), DeliveryResult::not_enabled)
        << "beyond the SINT's flags";
}

TEST_F(SynicTest, EventFlagRacesTheGuestClearingOtherFlags) {
    // The guest clears flag 3 with a locked AND while the SynIC sets flag 5 in the same word:
    // both effects survive (atomic OR, not read-modify-write of a stale copy).
    ram.store<uint64_t>(kSiefp + 2 * 256, 1u << 3);
    ram.before_atomic = [&](uint64_t address) {
        ram.store<uint64_t>(address, ram.load<uint64_t>(address) & ~uint64_t{1u << 3});
    };
    EXPECT_EQ(vp.signal_event(2, 5, ram, raise), DeliveryResult::delivered);
    EXPECT_EQ(ram.load<uint64_t>(kSiefp + 2 * 256), uint64_t{1} << 5);
}

TEST_F(SynicTest, EventNotEnabledCases) {
    ASSERT_TRUE(write(msr::kSint0 + 6, 0x10066));
    EXPECT_EQ(vp.signal_event(6, 1, ram, raise), DeliveryResult::not_enabled)
        << "masked SINT (TLFS: HV_STATUS_INVALID_SYNIC_STATE)";
    ASSERT_TRUE(write(msr::kSint0 + 6, 0x50066));
    EXPECT_EQ(vp.signal_event(6, 1, ram, raise), DeliveryResult::delivered) << "polling";
    EXPECT_TRUE(raise.empty());
    ASSERT_TRUE(write(msr::kSiefp, kSiefp));
    EXPECT_EQ(vp.signal_event(2, 1, ram, raise), DeliveryResult::not_enabled) << "SIEF off";
    ASSERT_TRUE(write(msr::kSiefp, kSiefp | 1));
    ram.hole = kSiefp;
    EXPECT_EQ(vp.signal_event(2, 1, ram, raise), DeliveryResult::not_enabled) << "not RAM";
}

TEST_F(SynicTest, ResetForgetsEverything) {
    ASSERT_EQ(post(2, 1, 0), DeliveryResult::delivered);
    ASSERT_EQ(post(2, 2, 0), DeliveryResult::queued);
    vp.reset();
    EXPECT_EQ(read(msr::kScontrol), 0u);
    EXPECT_EQ(read(msr::kSimp), 0u);
    EXPECT_EQ(read(msr::kSint0 + 2), 0x10000u);
    EXPECT_EQ(vp.synic().queue().size(), 0u);
}

// --- the pieces ---

TEST(InterruptVectors, SetOperationsAndIteration) {
    InterruptVectors set;
    EXPECT_TRUE(set.empty());
    EXPECT_EQ(set.next(0), -1);
    for (uint8_t v : {0, 63, 64, 127, 200, 255})
        set.add(v);
    EXPECT_EQ(set.size(), 6u);
    EXPECT_EQ(vectors_of(set), (std::vector<int>{0, 63, 64, 127, 200, 255}));
    EXPECT_EQ(set.next(64), 64);
    EXPECT_EQ(set.next(65), 127);
    EXPECT_EQ(set.next(256), -1);
    EXPECT_EQ(set.next(-1), -1);
    set.remove(127);
    EXPECT_FALSE(set.contains(127));
    EXPECT_TRUE(set.contains(200));
    InterruptVectors other = set;
    EXPECT_EQ(other, set);
}

TEST(MessageQueue, FifoPerSintAcrossTheSharedPool) {
    MessageQueue queue;
    const uint8_t payload[2] = {7, 8};
    ASSERT_TRUE(queue.push(1, 10, payload));
    ASSERT_TRUE(queue.push(2, 20, {}));
    ASSERT_TRUE(queue.push(1, 11, {}));
    EXPECT_EQ(queue.waiting_sints(), (1u << 1) | (1u << 2));
    ASSERT_NE(queue.front(1), nullptr);
    EXPECT_EQ(queue.front(1)->type, 10u);
    EXPECT_EQ(queue.front(1)->bytes().size(), 2u);
    queue.pop(1);
    EXPECT_EQ(queue.front(1)->type, 11u);
    // A freed buffer is reused without breaking the order.
    ASSERT_TRUE(queue.push(1, 12, {}));
    queue.pop(1);
    EXPECT_EQ(queue.front(1)->type, 12u);
    EXPECT_EQ(queue.front(3), nullptr);
    queue.pop(3); // nothing there: no effect
    EXPECT_EQ(queue.size(), 2u);
    EXPECT_FALSE(queue.push(16, 1, {})) << "no SINT 16";
    std::array<uint8_t, 241> too_big{};
    EXPECT_FALSE(queue.push(1, 1, too_big));
    queue.clear();
    EXPECT_EQ(queue.size(), 0u);
    EXPECT_EQ(queue.waiting_sints(), 0u);
}

class NullPort final : public SynicPort {
public:
    PortStatus on_message(uint32_t, uint32_t, std::span<const uint8_t>) override {
        return PortStatus::success;
    }
    PortStatus on_event(uint32_t, uint16_t) override { return PortStatus::success; }
};

TEST(ConnectionTable, SetFindReplaceRemove) {
    auto table = std::make_unique<ConnectionTable>();
    NullPort a, b;
    EXPECT_EQ(table->find(1), nullptr);
    EXPECT_EQ(table->set(1, &a), ConnectionTable::SetResult::ok);
    EXPECT_EQ(table->set(0xFF'FFFF, &b), ConnectionTable::SetResult::ok);
    EXPECT_EQ(table->find(1), &a);
    EXPECT_EQ(table->find(0xFF'FFFF), &b);
    EXPECT_EQ(table->set(1, &b), ConnectionTable::SetResult::ok);
    EXPECT_EQ(table->find(1), &b) << "replaced";
    EXPECT_EQ(table->size(), 2u);
    EXPECT_EQ(table->set(1, nullptr), ConnectionTable::SetResult::ok);
    EXPECT_EQ(table->find(1), nullptr);
    EXPECT_EQ(table->find(0xFF'FFFF), &b);
    EXPECT_EQ(table->set(77, nullptr), ConnectionTable::SetResult::ok) << "removing nothing";
    EXPECT_EQ(table->set(0x100'0000, &a), ConnectionTable::SetResult::invalid_id);
    for (uint32_t id = 100; table->size() < ConnectionTable::kCapacity; ++id)
        ASSERT_EQ(table->set(id, &a), ConnectionTable::SetResult::ok);
    EXPECT_EQ(table->set(5, &a), ConnectionTable::SetResult::full);
    EXPECT_EQ(table->set(100, &b), ConnectionTable::SetResult::ok) << "replacing needs no room";
}

} // namespace
} // namespace halcyon::vmm::hyperv
