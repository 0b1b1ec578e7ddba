#include "vmm/hyperv/synic.hpp"

#include "vmm/hyperv/tlfs.hpp"

#include <string.h>

namespace halcyon::vmm::hyperv {
namespace {

// How often a slot update retries when the guest changes the header word in between. A guest
// that rewrites its own slot that fast only delays its own messages.
constexpr int kMaxHeaderRaces = 16;

constexpr uint64_t slot_address(uint64_t simp, uint8_t sint) {
    return (simp & kSynicPageAddressMask) + uint64_t{sint} * kMessageSlotBytes;
}

} // namespace

bool Synic::claims_msr(uint32_t msr) {
    return (msr >= msr::kScontrol && msr <= msr::kEom) ||
           (msr >= msr::kSint0 && msr <= msr::kSint15);
}

bool Synic::read_msr(uint32_t msr, uint64_t& value) const {
    switch (msr) {
    case msr::kScontrol:
        value = scontrol_;
        return true;
    case msr::kSversion:
        value = kSynicVersion;
        return true;
    case msr::kSiefp:
        value = siefp_;
        return true;
    case msr::kSimp:
        value = simp_;
        return true;
    case msr::kEom:
        value = 0; // write-only trigger
        return true;
    default:
        if (msr >= msr::kSint0 && msr <= msr::kSint15) {
            value = sint_[msr - msr::kSint0];
            return true;
        }
        return false;
    }
}

bool Synic::write_msr(uint32_t msr, uint64_t value, uint16_t others_waiting, GuestMemory& memory,
                      InterruptVectors& raise) {
    switch (msr) {
    case msr::kScontrol:
        scontrol_ = value; // bits 63:1 are RsvdP
        return true;
    case msr::kSversion:
        return false; // read-only (TLFS: #GP)
    case msr::kSiefp:
        return write_page_msr(siefp_, value, memory);
    case msr::kSimp:
        return write_page_msr(simp_, value, memory);
    case msr::kEom:
        if (value != 0)
            return false; // RsvdZ
        deliver_queued(others_waiting, memory, raise);
        return true;
    default:
        if (msr >= msr::kSint0 && msr <= msr::kSint15)
            return write_sint(static_cast<uint8_t>(msr - msr::kSint0), value);
        return false;
    }
}

bool Synic::write_page_msr(uint64_t& reg, uint64_t value, GuestMemory& memory) {
    // A page appears zeroed when it is enabled or moved (TLFS: cleared at creation and reset;
    // Halcyon's overlays are copies, docs/hyperv.md). Rewriting the same enabled page keeps its
    // contents: messages in the slots must not vanish. A page that is not RAM is simply not
    // accessible (TLFS: no fault).
    const bool enable = (value & kSynicPageEnable) != 0;
    const bool was_enabled = (reg & kSynicPageEnable) != 0;
    const bool moved = ((value ^ reg) & kSynicPageAddressMask) != 0;
    if (enable && (!was_enabled || moved))
        (void)memory.fill_page(value & kSynicPageAddressMask, {});
    reg = value; // bits 11:1 are RsvdP
    return true;
}

bool Synic::write_sint(uint8_t index, uint64_t value) {
    // TLFS: vectors 0-15 are invalid (#GP). A masked SINT may hold one: its reset value is
    // 0x10000, vector 0, and guests write that back when they mask a SINT.
    const auto vector = static_cast<uint8_t>(value & kSintVectorMask);
    if (vector < kFirstValidVector && (value & kSintMasked) == 0)
        return false;
    sint_[index] = value; // bits 15:8 and 63:19 are RsvdP
    return true;
}

bool Synic::sint_masked(uint8_t index) const {
    const uint64_t value = sint_[index % kSintCount];
    return (value & kSintMasked) != 0 && (value & kSintPolling) == 0;
}

InterruptVectors Synic::auto_eoi_vectors() const {
    InterruptVectors vectors;
    for (uint64_t value : sint_) {
        if ((value & (kSintMasked | kSintPolling)) == 0 && (value & kSintAutoEoi) != 0)
            vectors.add(static_cast<uint8_t>(value & kSintVectorMask));
    }
    return vectors;
}

void Synic::assert_sint(uint8_t sint, InterruptVectors& raise) const {
    // Masked: "the interrupt is lost" (TLFS); polling: the guest looks by itself.
    const uint64_t value = sint_[sint];
    if ((value & (kSintMasked | kSintPolling)) != 0)
        return;
    raise.add(static_cast<uint8_t>(value & kSintVectorMask));
}

SlotResult Synic::write_slot(uint8_t sint, uint32_t type, std::span<const uint8_t> payload,
                             bool more_waiting, GuestMemory& memory, InterruptVectors& raise) {
    if (sint >= kSintCount || payload.size() > kMaxMessagePayloadBytes || !messages_enabled())
        return SlotResult::unavailable;
    const uint64_t slot = slot_address(simp_, sint);
    uint64_t header = 0;
    if (!memory.load_u64(slot, header))
        return SlotResult::unavailable;
    for (int attempt = 0; attempt < kMaxHeaderRaces; ++attempt) {
        bool swapped = false;
        if (header_type(header) != kMessageTypeNone) {
            // Occupied: ask for an EOM. The guest may empty the slot at this very moment; then
            // the exchange fails and the loop sees the free slot.
            if (header & kHeaderPendingBit)
                return SlotResult::busy;
            if (!memory.compare_exchange_u64(slot, header, header | kHeaderPendingBit, swapped))
                return SlotResult::unavailable;
            if (swapped)
                return SlotResult::busy;
            continue;
        }
        // Free: origin (0: no port; timers have none either) and payload first, then the
        // header word that makes the message visible.
        uint8_t body[kMessageHeaderBytes - kMessageOriginOffset + kMaxMessagePayloadBytes] = {};
        if (!payload.empty())
            memcpy(body + kMessageHeaderBytes - kMessageOriginOffset, payload.data(),
                   payload.size());
        if (!memory.write(slot + kMessageOriginOffset,
                          {body, kMessageHeaderBytes - kMessageOriginOffset + payload.size()}))
            return SlotResult::unavailable;
        const uint64_t word = message_header_word(type, static_cast<uint8_t>(payload.size()),
                                                  more_waiting ? kMessageFlagPending : uint8_t{0});
        if (!memory.compare_exchange_u64(slot, header, word, swapped))
            return SlotResult::unavailable;
        if (swapped) {
            assert_sint(sint, raise);
            return SlotResult::written;
        }
    }
    return SlotResult::busy;
}

DeliveryResult Synic::post_message(uint8_t sint, uint32_t type, std::span<const uint8_t> payload,
                                   uint16_t others_waiting, GuestMemory& memory,
                                   InterruptVectors& raise) {
    if (sint >= kSintCount || payload.size() > kMaxMessagePayloadBytes || !messages_enabled() ||
        sint_masked(sint))
        return DeliveryResult::not_enabled;
    const bool others = (others_waiting & (1u << sint)) != 0;
    if (queue_.count(sint) == 0) {
        switch (write_slot(sint, type, payload, others, memory, raise)) {
        case SlotResult::written:
            return DeliveryResult::delivered;
        case SlotResult::unavailable:
            return DeliveryResult::not_enabled;
        case SlotResult::busy:
            break;
        }
        return queue_.push(sint, type, payload) ? DeliveryResult::queued
                                                : DeliveryResult::queue_full;
    }
    // Earlier messages wait: this one goes behind them (TLFS: messages arrive in the order they
    // were posted). Queuing is also a moment to retry the oldest (TLFS: "another message buffer
    // is queued").
    if (!queue_.push(sint, type, payload))
        return DeliveryResult::queue_full;
    deliver_queued(others_waiting, memory, raise);
    return DeliveryResult::queued;
}

DeliveryResult Synic::signal_event(uint8_t sint, uint32_t flag_number, GuestMemory& memory,
                                   InterruptVectors& raise) {
    if (sint >= kSintCount || flag_number >= kEventFlagsPerSint || !events_enabled() ||
        sint_masked(sint))
        return DeliveryResult::not_enabled;
    const uint64_t word = (siefp_ & kSynicPageAddressMask) +
                          uint64_t{sint} * kEventFlagBytesPerSint + (flag_number / 64) * 8;
    const uint64_t bit = uint64_t{1} << (flag_number % 64);
    uint64_t previous = 0;
    if (!memory.fetch_or_u64(word, bit, previous))
        return DeliveryResult::not_enabled;
    // TLFS: the interrupt only when the flag was clear; a set flag is still being handled.
    if ((previous & bit) == 0)
        assert_sint(sint, raise);
    return DeliveryResult::delivered;
}

void Synic::deliver_queued(uint16_t others_waiting, GuestMemory& memory, InterruptVectors& raise) {
    const uint16_t waiting = queue_.waiting_sints();
    for (uint8_t sint = 0; sint < kSintCount; ++sint) {
        if ((waiting & (1u << sint)) == 0)
            continue;
        const QueuedMessage* message = queue_.front(sint);
        const bool more = queue_.count(sint) > 1 || (others_waiting & (1u << sint)) != 0;
        if (write_slot(sint, message->type, message->bytes(), more, memory, raise) ==
            SlotResult::written)
            queue_.pop(sint);
    }
}

void Synic::reset() {
    scontrol_ = 0;
    siefp_ = 0;
    simp_ = 0;
    for (uint64_t& value : sint_)
        value = kSintResetValue;
    queue_.clear();
}

} // namespace halcyon::vmm::hyperv
