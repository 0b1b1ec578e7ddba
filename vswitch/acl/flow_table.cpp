#include "vswitch/acl/flow_table.hpp"

#include "vswitch/acl/hash_mix.hpp"

namespace halcyon::vswitch::acl {

FlowTable::FlowTable(std::span<FlowSlot> slots) : slots_(slots) {
    clear();
}

void FlowTable::clear() {
    for (FlowSlot& slot : slots_)
        slot.used = false;
    live_ = 0;
}

uint64_t FlowTable::hash(const FlowKey& key) {
    uint64_t state = hash_combine(0, key.initiator_address.high);
    state = hash_combine(state, key.initiator_address.low);
    state = hash_combine(state, key.responder_address.high);
    state = hash_combine(state, key.responder_address.low);
    state = hash_combine(state,
                         uint64_t{key.initiator_port} << 32 | uint64_t{key.responder_port} << 16 |
                             uint64_t{key.protocol} << 8 | static_cast<uint8_t>(key.family) << 2 |
                             static_cast<uint8_t>(key.initiator_direction));
    return hash_finish(state);
}

// Backward-shift deletion: pull later members of the probe chain into the hole whenever their
// home slot lies at or before it, so every remaining key stays reachable from its home.
void FlowTable::remove_at(size_t hole) {
    const size_t mask = slots_.size() - 1;
    slots_[hole].used = false;
    --live_;
    size_t next = (hole + 1) & mask;
    while (slots_[next].used) {
        size_t home = home_of(slots_[next].key);
        // Distance from home to `next` versus home to `hole`, both walking forward cyclically.
        if (((next - home) & mask) >= ((next - hole) & mask)) {
            slots_[hole] = slots_[next];
            slots_[next].used = false;
            hole = next;
        }
        next = (next + 1) & mask;
    }
}

const FlowSlot* FlowTable::touch(const FlowKey& key, uint64_t now_ns) {
    if (slots_.empty())
        return nullptr;
    const size_t mask = slots_.size() - 1;
    for (size_t slot = home_of(key); slots_[slot].used; slot = (slot + 1) & mask) {
        if (!(slots_[slot].key == key))
            continue;
        if (is_idle(slots_[slot], now_ns)) {
            remove_at(slot);
            return nullptr;
        }
        slots_[slot].last_seen_ns = now_ns;
        return &slots_[slot];
    }
    return nullptr;
}

bool FlowTable::open(const FlowKey& key, uint32_t rule_index, uint64_t idle_timeout_ns,
                     uint64_t now_ns) {
    if (slots_.empty())
        return false;
    const size_t mask = slots_.size() - 1;
    size_t slot = home_of(key);
    for (; slots_[slot].used; slot = (slot + 1) & mask) {
        if (slots_[slot].key == key) {
            slots_[slot].last_seen_ns = now_ns;
            slots_[slot].idle_timeout_ns = idle_timeout_ns;
            slots_[slot].rule_index = rule_index;
            return true;
        }
    }
    if (live_ >= capacity()) {
        if (expire(now_ns) == 0)
            return false;
        return open(key, rule_index, idle_timeout_ns, now_ns); // the chain may have moved
    }
    slots_[slot] = FlowSlot{key, now_ns, idle_timeout_ns, rule_index, true};
    ++live_;
    return true;
}

size_t FlowTable::expire(uint64_t now_ns) {
    size_t removed = 0;
    for (size_t slot = 0; slot < slots_.size();) {
        if (slots_[slot].used && is_idle(slots_[slot], now_ns)) {
            remove_at(slot); // may shift a later entry into `slot`: look at it again
            ++removed;
            continue;
        }
        ++slot;
    }
    return removed;
}

} // namespace halcyon::vswitch::acl
