// A fixed-capacity table of KVP items (pool, UTF-8 key, UTF-8 value): the guest's items the host
// read back, and the items the host wrote into the guest's pools. No allocation: a full table
// refuses new keys.
#pragma once

#include "lib/base/error_or.hpp"

#include <span>
#include <stdint.h>
#include <string_view>

namespace halcyon::vmm::vmbus::ic {

// Protocol limits: keys are at most 512 bytes of UTF-16 with the terminator (255 characters),
// values 2048 bytes (1023 characters).
inline constexpr uint32_t kKvpKeyFieldBytes = 512;
inline constexpr uint32_t kKvpValueFieldBytes = 2048;
// What a table keeps, in UTF-8 bytes. Host-written items must fit (every UTF-8 byte is at most
// one UTF-16 unit, so they always fit the protocol's fields); guest items are truncated to it.
inline constexpr uint32_t kKvpKeyBytes = 255;
inline constexpr uint32_t kKvpValueBytes = 1023;
inline constexpr uint32_t kKvpTableEntries = 16;

struct KvpEntry {
    bool used = false;
    bool truncated = false; // the guest's value was longer than kKvpValueBytes
    // Bookkeeping of the owner (seen in the current refresh; host item state).
    uint8_t mark = 0;
    uint8_t pool = 0;
    uint16_t key_length = 0;
    uint16_t value_length = 0;
    char key[kKvpKeyBytes] = {};
    char value[kKvpValueBytes] = {};

    [[nodiscard]] std::string_view key_view() const { return {key, key_length}; }
    [[nodiscard]] std::string_view value_view() const { return {value, value_length}; }
};

class KvpTable {
public:
    // The entry for (pool, key), or nullptr.
    [[nodiscard]] KvpEntry* find(uint8_t pool, std::string_view key);
    [[nodiscard]] const KvpEntry* find(uint8_t pool, std::string_view key) const;
    // The entry for (pool, key), created empty (value "") if missing. out_of_memory: full;
    // invalid_argument: the key is empty or longer than kKvpKeyBytes.
    [[nodiscard]] ErrorOr<KvpEntry*> insert(uint8_t pool, std::string_view key);
    // Sets the value, truncating it to kKvpValueBytes (entry.truncated says so).
    static void set_value(KvpEntry& entry, std::string_view value);
    void erase(KvpEntry& entry) { entry = KvpEntry{}; }
    void clear();
    // Erases the used entries of `pool` whose mark differs from `mark`.
    void erase_unmarked(uint8_t pool, uint8_t mark);
    [[nodiscard]] uint32_t count(uint8_t pool) const;
    [[nodiscard]] std::span<KvpEntry> entries() { return entries_; }
    [[nodiscard]] std::span<const KvpEntry> entries() const { return entries_; }

private:
    KvpEntry entries_[kKvpTableEntries];
};

} // namespace halcyon::vmm::vmbus::ic
