// A small cache of metadata sectors (FAT and directory sectors). FAT updates stay dirty here
// until the volume writes them back at an ordering point; directory sectors are written
// through at once, because their write is the commit step of every operation and must come
// exactly where the operation puts it, after a flush barrier.
#pragma once

#include "mgmt/datastore/exfat/memory.hpp"
#include "mgmt/datastore/exfat/sector_device.hpp"

#include <stdint.h>

namespace halcyon::exfat {

class SectorCache {
public:
    [[nodiscard]] ErrorOr<void> init(Allocator& allocator, SectorDevice& device, uint32_t slots);
    void release();

    // The cached copy of `sector`, read from the device on a miss. The pointer is valid until
    // the next call into the cache.
    [[nodiscard]] ErrorOr<uint8_t*> get(uint64_t sector);
    // Marks a sector obtained from get() as modified; it reaches the device in write_back()
    // (or when evicted).
    void mark_dirty(uint64_t sector);
    // Writes a sector obtained from get() to the device now.
    [[nodiscard]] ErrorOr<void> write_through(uint64_t sector);
    // Writes every dirty sector.
    [[nodiscard]] ErrorOr<void> write_back();
    // Forgets cached copies of [first, first + count) (their clusters were rewritten as data);
    // dirty ones are dropped too: callers only invalidate sectors they no longer own.
    void invalidate(uint64_t first, uint64_t count);
    [[nodiscard]] bool has_dirty() const;

private:
    struct Slot {
        uint64_t sector;
        uint64_t last_use;
        bool valid;
        bool dirty;
    };
    [[nodiscard]] ErrorOr<void> write_slot(uint32_t index);

    SectorDevice* device_ = nullptr;
    Buffer data_;
    Buffer slots_;
    uint32_t count_ = 0;
    uint32_t sector_size_ = 0;
    uint64_t clock_ = 0;
};

} // namespace halcyon::exfat
