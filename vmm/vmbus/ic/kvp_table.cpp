// The fixed-capacity KVP item table (see kvp_table.hpp).
#include "vmm/vmbus/ic/kvp_table.hpp"

#include <string.h>

namespace halcyon::vmm::vmbus::ic {

KvpEntry* KvpTable::find(uint8_t pool, std::string_view key) {
    for (KvpEntry& entry : entries_) {
        if (entry.used && entry.pool == pool && entry.key_view() == key)
            return &entry;
    }
    return nullptr;
}

const KvpEntry* KvpTable::find(uint8_t pool, std::string_view key) const {
    return const_cast<KvpTable*>(this)->find(pool, key);
}

ErrorOr<KvpEntry*> KvpTable::insert(uint8_t pool, std::string_view key) {
    if (key.empty() || key.size() > kKvpKeyBytes)
        return Error(ErrorCode::invalid_argument, "kvp: key empty or too long");
    if (KvpEntry* existing = find(pool, key))
        return existing;
    for (KvpEntry& entry : entries_) {
        if (entry.used)
            continue;
        entry = KvpEntry{};
        entry.used = true;
        entry.pool = pool;
        memcpy(entry.key, key.data(), key.size());
        entry.key_length = static_cast<uint16_t>(key.size());
        return &entry;
    }
    return Error(ErrorCode::out_of_memory, "kvp: item table full");
}

void KvpTable::set_value(KvpEntry& entry, std::string_view value) {
    const size_t length = value.size() < kKvpValueBytes ? value.size() : kKvpValueBytes;
    memcpy(entry.value, value.data(), length);
    entry.value_length = static_cast<uint16_t>(length);
    entry.truncated = length < value.size();
}

void KvpTable::clear() {
    for (KvpEntry& entry : entries_)
        entry = KvpEntry{};
}

void KvpTable::erase_unmarked(uint8_t pool, uint8_t mark) {
    for (KvpEntry& entry : entries_) {
        if (entry.used && entry.pool == pool && entry.mark != mark)
            erase(entry);
    }
}

uint32_t KvpTable::count(uint8_t pool) const {
    uint32_t n = 0;
    for (const KvpEntry& entry : entries_)
        n += entry.used && entry.pool == pool ? 1 : 0;
    return n;
}

} // namespace halcyon::vmm::vmbus::ic
