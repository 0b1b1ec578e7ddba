// The stateful half of the port ACL: flows opened by stateful allow rules. A flow is stored once,
// oriented from its initiator (the side whose packet matched the stateful rule), and a packet
// finds it either as the initiator's traffic or as the responder's return traffic.
//
// Fixed capacity in caller-provided slots, open addressing with linear probing and backward-shift
// deletion (no tombstones, so probe chains never rot). Idle timeouts are measured on the clock
// the caller passes in with every call.
#pragma once

#include "vswitch/acl/acl_types.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vswitch::acl {

struct FlowKey {
    IpAddress initiator_address;
    IpAddress responder_address;
    uint16_t initiator_port = 0; // ICMP echo: the echo identifier on both ends
    uint16_t responder_port = 0;
    uint8_t protocol = 0;
    AddressFamily family = AddressFamily::any;
    Direction initiator_direction = Direction::outbound;
    friend constexpr bool operator==(const FlowKey&, const FlowKey&) = default;
};

struct FlowSlot {
    FlowKey key;
    uint64_t last_seen_ns = 0;
    uint64_t idle_timeout_ns = 0;
    uint32_t rule_index = 0; // the stateful rule that opened the flow (for metering)
    bool used = false;
};

class FlowTable {
public:
    FlowTable() = default;
    // `slots.size()` must be a power of two; at most 3/4 of them are ever occupied.
    explicit FlowTable(std::span<FlowSlot> slots);

    [[nodiscard]] static constexpr size_t slot_count_for(size_t flow_capacity) {
        size_t slots = 8;
        while (slots * 3 / 4 < flow_capacity)
            slots <<= 1;
        return slots;
    }

    // The live flow with `key`, refreshed to `now_ns`; nullptr when absent or idle too long
    // (an idle flow is removed on the spot).
    [[nodiscard]] const FlowSlot* touch(const FlowKey& key, uint64_t now_ns);

    // Opens (or refreshes) a flow. False when the table is full even after dropping idle flows.
    [[nodiscard]] bool open(const FlowKey& key, uint32_t rule_index, uint64_t idle_timeout_ns,
                            uint64_t now_ns);

    // Drops every flow idle past its timeout; returns how many went.
    size_t expire(uint64_t now_ns);
    void clear();

    [[nodiscard]] size_t size() const { return live_; }
    [[nodiscard]] size_t capacity() const { return slots_.size() * 3 / 4; }

private:
    [[nodiscard]] static uint64_t hash(const FlowKey& key);
    [[nodiscard]] static bool is_idle(const FlowSlot& slot, uint64_t now_ns) {
        return now_ns - slot.last_seen_ns >= slot.idle_timeout_ns;
    }
    [[nodiscard]] size_t home_of(const FlowKey& key) const {
        return static_cast<size_t>(hash(key)) & (slots_.size() - 1);
    }
    void remove_at(size_t slot);

    std::span<FlowSlot> slots_;
    size_t live_ = 0;
};

} // namespace halcyon::vswitch::acl
