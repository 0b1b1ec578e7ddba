#include "mgmt/datastore/exfat/sector_cache.hpp"

namespace halcyon::exfat {

ErrorOr<void> SectorCache::init(Allocator& allocator, SectorDevice& device, uint32_t slots) {
    device_ = &device;
    sector_size_ = device.sector_size();
    count_ = slots < 4 ? 4 : slots;
    data_ = TRY(Buffer::allocate(allocator, size_t{count_} * sector_size_));
    slots_ = TRY(Buffer::allocate(allocator, size_t{count_} * sizeof(Slot)));
    for (uint32_t i = 0; i < count_; ++i)
        slots_.as<Slot>()[i] = Slot{0, 0, false, false};
    return {};
}

void SectorCache::release() {
    data_.release();
    slots_.release();
    count_ = 0;
}

ErrorOr<void> SectorCache::write_slot(uint32_t index) {
    Slot& slot = slots_.as<Slot>()[index];
    TRY(device_->write(slot.sector, {data_.data() + size_t{index} * sector_size_, sector_size_}));
    slot.dirty = false;
    return {};
}

ErrorOr<uint8_t*> SectorCache::get(uint64_t sector) {
    Slot* slots = slots_.as<Slot>();
    uint32_t victim = 0;
    for (uint32_t i = 0; i < count_; ++i) {
        if (slots[i].valid && slots[i].sector == sector) {
            slots[i].last_use = ++clock_;
            return data_.data() + size_t{i} * sector_size_;
        }
        // Least recently used; an invalid slot is the cheapest victim.
        if (!slots[i].valid || (slots[victim].valid && slots[i].last_use < slots[victim].last_use))
            victim = i;
    }
    if (slots[victim].valid && slots[victim].dirty)
        TRY(write_slot(victim));
    slots[victim].valid = false;
    uint8_t* data = data_.data() + size_t{victim} * sector_size_;
    TRY(device_->read(sector, {data, sector_size_}));
    slots[victim] = Slot{sector, ++clock_, true, false};
    return data;
}

void SectorCache::mark_dirty(uint64_t sector) {
    Slot* slots = slots_.as<Slot>();
    for (uint32_t i = 0; i < count_; ++i)
        if (slots[i].valid && slots[i].sector == sector)
            slots[i].dirty = true;
}

ErrorOr<void> SectorCache::write_through(uint64_t sector) {
    Slot* slots = slots_.as<Slot>();
    for (uint32_t i = 0; i < count_; ++i)
        if (slots[i].valid && slots[i].sector == sector)
            return write_slot(i);
    return Error(ErrorCode::invalid_argument, "exfat: write_through of an uncached sector");
}

ErrorOr<void> SectorCache::write_back() {
    Slot* slots = slots_.as<Slot>();
    // In sector order, so FAT sectors go out as one sweep.
    for (;;) {
        uint32_t next = count_;
        for (uint32_t i = 0; i < count_; ++i)
            if (slots[i].valid && slots[i].dirty &&
                (next == count_ || slots[i].sector < slots[next].sector))
                next = i;
        if (next == count_)
            return {};
        TRY(write_slot(next));
    }
}

void SectorCache::invalidate(uint64_t first, uint64_t count) {
    Slot* slots = slots_.as<Slot>();
    for (uint32_t i = 0; i < count_; ++i)
        if (slots[i].valid && slots[i].sector >= first && slots[i].sector - first < count)
            slots[i] = Slot{0, 0, false, false};
}

bool SectorCache::has_dirty() const {
    const Slot* slots = slots_.as<Slot>();
    for (uint32_t i = 0; i < count_; ++i)
        if (slots[i].valid && slots[i].dirty)
            return true;
    return false;
}

} // namespace halcyon::exfat
