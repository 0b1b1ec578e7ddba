// The four rotate-and-add checksums of exFAT (figures 1-4 of the specification).
#pragma once

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::exfat {

// Boot region checksum over sectors 0..10 (11 * sector_size bytes), skipping the VolumeFlags
// and PercentInUse bytes of the boot sector, which change without a checksum update.
[[nodiscard]] uint32_t boot_checksum(std::span<const uint8_t> sectors);

// Entry set checksum, fed one 32-byte entry at a time (the first one is the primary entry,
// whose SetChecksum bytes 2-3 are skipped).
class EntrySetChecksum {
public:
    void add(std::span<const uint8_t> entry, bool primary);
    [[nodiscard]] uint16_t value() const { return value_; }

private:
    uint16_t value_ = 0;
};

// NameHash over an up-cased UTF-16 name (low byte, then high byte of each character).
[[nodiscard]] uint16_t name_hash(std::span<const uint16_t> upcased_name);

// TableChecksum of an up-case table as it is stored (compressed or not).
[[nodiscard]] uint32_t table_checksum(std::span<const uint8_t> table, uint32_t seed = 0);

} // namespace halcyon::exfat
