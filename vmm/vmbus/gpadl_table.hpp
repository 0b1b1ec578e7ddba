// The GPADLs (guest physical address descriptor lists) of one VM: page lists the guest describes
// to the host with GPADL_HEADER and GPADL_BODY messages, by which it later names memory (a
// channel's ring buffers, a VSP's shared buffers). The table stores each list's raw range entries
// ({byte_count, byte_offset} header u64 + one pfn u64 per page, per range) in one fixed pool, so
// a guest can neither make the host allocate nor exceed the per-VM limits of vmbus_limits.hpp.
//
// A GPADL is "receiving" until its range bytes have all arrived, then validated once (ranges
// well formed, exactly filling the announced buffer, every page guest RAM) and "complete".
// Pool space is allocated first-fit when the header arrives and never moves while the GPADL
// lives, so a ring reading through a GPADL needs no lock against the control path.
// Not thread-safe: the VMBus host calls it under its control lock.
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/vmbus/channel_device.hpp"
#include "vmm/vmbus/vmbus_limits.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::vmbus {

enum class GpadlState : uint8_t { free, receiving, complete };

struct GpadlInfo {
    GpadlState state = GpadlState::free;
    bool ring_in_use = false; // an open channel reads its rings through this GPADL
    uint16_t range_count = 0;
    uint32_t id = 0;
    uint32_t relid = 0; // the channel it was created for
    uint32_t total_entries = 0;
    uint32_t filled_entries = 0;
    uint32_t pool_offset = 0;
};

class GpadlTable {
public:
    static constexpr int32_t kNone = -1;

    // The slot of GPADL `id` (any state), or kNone.
    [[nodiscard]] int32_t find(uint32_t id) const;
    [[nodiscard]] const GpadlInfo& info(uint32_t slot) const { return slots_[slot]; }
    void set_ring_in_use(uint32_t slot, bool in_use) { slots_[slot].ring_in_use = in_use; }

    // GPADL_HEADER: a new GPADL `id` for channel `relid` whose ranges take `range_bytes` bytes.
    [[nodiscard]] ErrorOr<uint32_t> begin(uint32_t relid, uint32_t id, uint16_t range_count,
                                          uint16_t range_bytes);
    // Range bytes from the header's tail or a GPADL_BODY. Whole u64 entries only; bytes past the
    // announced size are ignored (some guests send full-size messages). True once complete.
    [[nodiscard]] ErrorOr<bool> append(uint32_t slot, std::span<const uint8_t> bytes);
    // Checks a GPADL whose bytes have all arrived and marks it complete.
    [[nodiscard]] ErrorOr<void> validate(uint32_t slot, GuestMemory& memory);

    // The pages of a complete GPADL that is one page-aligned range (what a ring needs).
    [[nodiscard]] ErrorOr<std::span<const uint64_t>> aligned_pages(uint32_t slot) const;
    // All range entries of a complete GPADL.
    [[nodiscard]] std::span<const uint64_t> entries(uint32_t slot) const;

    void release(uint32_t slot);
    void release_relid(uint32_t relid);
    void release_all();

    [[nodiscard]] uint32_t count() const;
    [[nodiscard]] uint32_t pool_entries_used() const;

private:
    [[nodiscard]] ErrorOr<uint32_t> allocate_pool(uint32_t entries) const;

    GpadlInfo slots_[kMaxGpadls];
    uint64_t pool_[kGpadlPoolEntries];
};

// Whether a whole guest page is RAM, probed through GuestMemory (its first and last byte: guest
// RAM is made of whole pages).
[[nodiscard]] bool guest_page_present(GuestMemory& memory, uint64_t pfn);

} // namespace halcyon::vmm::vmbus
