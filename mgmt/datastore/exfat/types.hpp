// Value types shared by the volume, its files and the checker.
#pragma once

#include "mgmt/datastore/exfat/clock.hpp"
#include "mgmt/datastore/exfat/layout.hpp"
#include "mgmt/datastore/exfat/name.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::exfat {

// A cluster allocation: a file's data, a directory, the bitmap. `length` is DataLength; the
// allocation is always ceil(length / cluster size) clusters (exFAT has no separate allocated
// size). A NoFatChain allocation is one contiguous run starting at first_cluster.
struct Stream {
    uint32_t first_cluster = 0;
    bool no_fat_chain = false;
    uint64_t length = 0;
};

// Checkpoints along a FAT chain (the cluster at every 2^shift-th index), so random access to a
// long fragmented file walks at most 2^shift FAT entries instead of the whole chain. Fixed
// size: when the chain outgrows it, every other point is dropped and the spacing doubles.
struct ChainIndex {
    static constexpr uint32_t kPoints = 64;
    uint32_t shift = 0;
    uint32_t count = 0; // points[i] is the cluster at index i << shift, for i < count
    uint32_t points[kPoints];

    void reset() {
        shift = 0;
        count = 0;
    }
    // Forgets points at or past `clusters` (the chain was cut there).
    void truncate(uint64_t clusters) {
        uint64_t keep = (clusters + (uint64_t(1) << shift) - 1) >> shift;
        if (keep < count)
            count = static_cast<uint32_t>(keep);
    }
};

// Where a chained walk stands, so sequential access does not walk the FAT from the start.
struct ChainCursor {
    uint64_t index = 0;
    uint32_t cluster = 0;         // 0: not positioned
    ChainIndex* points = nullptr; // an open file's checkpoints, if it has any

    void forget() {
        index = 0;
        cluster = 0;
        if (points != nullptr)
            points->reset();
    }
};

// The position of an entry set: its directory and the index of its first 32-byte entry.
struct EntryLocation {
    Stream directory;
    uint32_t index = 0;
    uint32_t entries = 0; // SecondaryCount + 1
};

// A directory as the operations see it: its allocation, and where its own entry set is (to
// update its DataLength when it grows). The root has no entry set.
struct DirectoryRef {
    Stream stream;
    bool is_root = false;
    EntryLocation self;
};

// A File entry set held in memory: the File, Stream Extension and File Name entries (at most 19
// entries; benign vendor secondaries after the names stay on disk and are only counted).
struct EntrySet {
    static constexpr uint32_t kMaxHeld = 2 + layout::kMaxNameEntries;
    uint8_t raw[kMaxHeld][layout::kEntrySize];
    uint32_t held = 0;              // entries in raw
    uint32_t total = 0;             // SecondaryCount + 1
    bool vendor_allocation = false; // a Vendor Allocation secondary owns clusters
    Name name;

    [[nodiscard]] layout::FileEntry& file() {
        return *reinterpret_cast<layout::FileEntry*>(raw[0]);
    }
    [[nodiscard]] const layout::FileEntry& file() const {
        return *reinterpret_cast<const layout::FileEntry*>(raw[0]);
    }
    [[nodiscard]] layout::StreamExtensionEntry& stream_entry() {
        return *reinterpret_cast<layout::StreamExtensionEntry*>(raw[1]);
    }
    [[nodiscard]] const layout::StreamExtensionEntry& stream_entry() const {
        return *reinterpret_cast<const layout::StreamExtensionEntry*>(raw[1]);
    }
    [[nodiscard]] bool is_directory() const {
        return (file().file_attributes & layout::kAttributeDirectory) != 0;
    }
    [[nodiscard]] Stream stream() const {
        const auto& s = stream_entry();
        return Stream{s.first_cluster, (s.general_secondary_flags & layout::kFlagNoFatChain) != 0,
                      s.data_length};
    }
};

// What listing and stat report about an entry.
struct EntryInfo {
    char name[kMaxNameUtf8 + 1];
    uint32_t name_length = 0;
    bool directory = false;
    uint16_t attributes = 0;
    uint64_t size = 0;       // DataLength
    uint64_t valid_size = 0; // ValidDataLength
    uint32_t first_cluster = 0;
    bool contiguous = false; // NoFatChain
    DateTime created;
    DateTime modified;
    DateTime accessed;
};

} // namespace halcyon::exfat
