// The storage mechanism both exact-match caches of the switch share (acl::ClassificationCache,
// nvgre::FlowCache): a 4-way set-associative table in memory the caller provides, with
// generation-tagged entries so that invalidating everything is one increment.
//
// An Entry has a `uint64_t tag` = generation << 32 | 32 bits of the key's hash; a tag of 0 never
// matches (generations start at 1). Sets are chosen by the hash's top bits. The caches keep their
// own key comparison and payload; this class decides where an entry lives and whether it is
// current.
#pragma once

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vswitch {

template <typename Entry>
class CacheSets {
public:
    static constexpr size_t kWays = 4;

    // 0 (no cache) or a power of two >= kWays.
    [[nodiscard]] static constexpr bool valid_size(size_t entries) {
        return entries == 0 || (entries >= kWays && (entries & (entries - 1)) == 0);
    }

    CacheSets() = default;
    explicit CacheSets(std::span<Entry> entries)
        : entries_(entries), set_shift_(set_shift_for(entries.size())) {
        clear_tags();
    }

    [[nodiscard]] bool enabled() const { return !entries_.empty(); }

    void invalidate_all() {
        if (++generation_ != 0)
            return;
        // The counter wrapped: stale entries could carry the new number, so clear them.
        clear_tags();
    }

    [[nodiscard, gnu::always_inline]] uint64_t tag_of(uint64_t hash) const {
        return uint64_t{generation_} << 32 | static_cast<uint32_t>(hash >> 16);
    }
    // The kWays entries of `hash`'s set.
    [[nodiscard, gnu::always_inline]] const Entry* set_of(uint64_t hash) const {
        return &entries_[static_cast<size_t>(hash >> 1 >> set_shift_) * kWays];
    }
    // Where a new entry for `hash` goes: a way of its set holding nothing current, else the next
    // way in turn (round robin across the cache). Its tag is already set; the caller fills the
    // key and payload.
    [[nodiscard]] Entry& place(uint64_t hash) {
        Entry* set = &entries_[static_cast<size_t>(hash >> 1 >> set_shift_) * kWays];
        size_t way = 0;
        while (way < kWays && (set[way].tag >> 32) == generation_)
            ++way;
        if (way == kWays)
            way = next_victim_++ % kWays;
        set[way].tag = tag_of(hash);
        return set[way];
    }

private:
    void clear_tags() {
        for (Entry& entry : entries_)
            entry.tag = 0;
        generation_ = 1;
    }
    [[nodiscard]] static constexpr uint32_t set_shift_for(size_t entries) {
        uint32_t shift = 63; // with one set: hash >> 1 >> 63 is 0
        for (size_t sets = entries / kWays; sets > 1; sets >>= 1)
            --shift;
        return shift;
    }

    std::span<Entry> entries_;
    uint32_t set_shift_ = 63;
    uint32_t generation_ = 1;
    uint32_t next_victim_ = 0;
};

} // namespace halcyon::vswitch
