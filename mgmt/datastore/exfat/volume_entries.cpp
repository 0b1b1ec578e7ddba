// Directory entry sets: reading and validating them, writing new ones where a power cut cannot
// leave half a set behind, updating and deleting them.
#include "mgmt/datastore/exfat/volume.hpp"

#include "mgmt/datastore/exfat/checksum.hpp"

#include <string.h>

namespace halcyon::exfat {

using namespace layout;

namespace {

Error corrupt(const char* message) {
    return Error(ErrorCode::corrupt, message);
}

} // namespace

uint32_t Volume::entries_in(const Stream& directory) const {
    uint64_t entries = directory.length / kEntrySize;
    return entries > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(entries);
}

ErrorOr<uint8_t*> Volume::entry_at(const Stream& directory, uint32_t index, uint64_t* sector_out) {
    uint64_t byte = uint64_t(index) * kEntrySize;
    if (byte >= directory.length)
        return corrupt("exfat: directory entry index past the end of its directory");
    if (directory_cursor_owner_ != directory.first_cluster) {
        directory_cursor_.forget();
        directory_cursor_owner_ = directory.first_cluster;
    }
    uint64_t within = byte & (geometry_.cluster_size() - 1);
    uint32_t cluster = TRY(cluster_at(directory, byte >> geometry_.cluster_shift,
                                      directory.no_fat_chain ? nullptr : &directory_cursor_));
    uint64_t sector = geometry_.cluster_sector(cluster) + (within >> geometry_.sector_shift);
    uint8_t* data = TRY(cache_.get(sector));
    if (sector_out != nullptr)
        *sector_out = sector;
    return data + (within & (geometry_.sector_size() - 1));
}

ErrorOr<void> Volume::read_entry_set(const Stream& directory, uint32_t index, EntrySet& out) {
    const uint8_t* first = TRY(entry_at(directory, index));
    if (first[0] != kEntryFile)
        return corrupt("exfat: expected a File directory entry");
    uint32_t secondaries = first[1];
    if (secondaries < 2)
        return corrupt("exfat: File entry set has fewer than 2 secondary entries");
    if (uint64_t(index) + secondaries >= entries_in(directory))
        return corrupt("exfat: entry set runs past the end of its directory");
    out.total = secondaries + 1;
    out.held = 0;
    out.vendor_allocation = false;
    EntrySetChecksum checksum;
    uint32_t name_entries = 0;
    for (uint32_t i = 0; i < out.total; ++i) {
        const uint8_t* entry = i == 0 ? first : TRY(entry_at(directory, index + i));
        checksum.add({entry, kEntrySize}, i == 0);
        uint8_t type = entry[0];
        if (i == 1 && type != kEntryStreamExtension)
            return corrupt("exfat: File entry is not followed by a Stream Extension entry");
        if (i == 1) {
            uint32_t name_length = entry[3];
            if (name_length == 0)
                return corrupt("exfat: Stream Extension has a zero NameLength");
            name_entries = (name_length + kNameCharsPerEntry - 1) / kNameCharsPerEntry;
            if (secondaries < 1 + name_entries)
                return corrupt("exfat: entry set is too short for its NameLength");
        } else if (i >= 2 && i < 2 + name_entries) {
            if (type != kEntryFileName)
                return corrupt("exfat: File Name entries missing from an entry set");
        } else if (i >= 2) {
            if (!(type & kEntryInUse))
                return corrupt("exfat: entry set contains an unused entry");
            if (!(type & kEntryCategorySecondary))
                return corrupt("exfat: entry set contains a primary entry");
            if (!(type & kEntryBenign))
                return Error(ErrorCode::not_supported,
                             "exfat: entry set has an unrecognized critical secondary entry");
            if (type == kEntryVendorAllocation)
                out.vendor_allocation = true;
        }
        // Re-read `first` after other entries: the cache may have moved it.
        if (i < EntrySet::kMaxHeld) {
            memcpy(out.raw[i], entry, kEntrySize);
            out.held = i + 1;
        }
        if (i == 0)
            first = nullptr;
    }
    if (checksum.value() != out.file().set_checksum)
        return corrupt("exfat: directory entry set checksum mismatch");

    const StreamExtensionEntry& stream = out.stream_entry();
    if (!(stream.general_secondary_flags & kFlagAllocationPossible))
        return corrupt("exfat: Stream Extension does not allow an allocation");
    if (stream.valid_data_length > stream.data_length)
        return corrupt("exfat: ValidDataLength is larger than DataLength");
    if ((stream.first_cluster == 0) != (stream.data_length == 0))
        return corrupt("exfat: FirstCluster and DataLength disagree about an allocation");
    if (stream.first_cluster != 0) {
        if (!geometry_.valid_cluster(stream.first_cluster))
            return corrupt("exfat: FirstCluster is outside the cluster heap");
        if (stream.data_length > geometry_.heap_bytes())
            return corrupt("exfat: DataLength is larger than the cluster heap");
        if ((stream.general_secondary_flags & kFlagNoFatChain) &&
            uint64_t(stream.first_cluster) - kFirstCluster + clusters_for(stream.data_length) >
                geometry_.cluster_count)
            return corrupt("exfat: contiguous allocation runs past the cluster heap");
    }
    if (out.is_directory()) {
        if (stream.data_length % geometry_.cluster_size() != 0)
            return corrupt("exfat: directory size is not a multiple of the cluster size");
        if (stream.data_length > kMaxDirectorySize)
            return corrupt("exfat: directory is larger than 256 MiB");
        if (stream.valid_data_length != stream.data_length)
            return corrupt("exfat: directory ValidDataLength differs from its DataLength");
    }

    out.name.length = stream.name_length;
    for (uint32_t c = 0; c < stream.name_length; ++c)
        memcpy(&out.name.chars[c], out.raw[2 + c / kNameCharsPerEntry] + 2 + (c % 15) * 2, 2);
    if (name_hash_of(upcase_, out.name.view()) != stream.name_hash)
        return corrupt("exfat: NameHash does not match the file name");
    return {};
}

ErrorOr<bool> Volume::next_entry_set(const Stream& directory, bool is_root, uint32_t& index,
                                     EntrySet& out) {
    uint32_t count = entries_in(directory);
    while (index < count) {
        const uint8_t* entry = TRY(entry_at(directory, index));
        uint8_t type = entry[0];
        if (type == kEntryEndOfDirectory)
            return false;
        if (!(type & kEntryInUse)) {
            ++index;
            continue;
        }
        if (type == kEntryFile) {
            TRY(read_entry_set(directory, index, out));
            return true;
        }
        if (type == kEntryAllocationBitmap || type == kEntryUpcaseTable ||
            type == kEntryVolumeLabel) {
            if (!is_root)
                return corrupt("exfat: bitmap, up-case or label entry outside the root");
            ++index;
            continue;
        }
        if (type & kEntryCategorySecondary) {
            // An in-use secondary with no primary: what a power cut in the middle of deleting
            // a set spanning two sectors leaves. Readers skip it; a dirty mount clears it.
            ++stray_entries_seen_;
            if (clear_strays_) {
                uint8_t unused[1][kEntrySize];
                memcpy(unused[0], entry, kEntrySize);
                unused[0][0] = static_cast<uint8_t>(type & ~kEntryInUse);
                TRY(write_entries(directory, index, unused, 1));
            }
            ++index;
            continue;
        }
        if (!(type & kEntryBenign))
            return corrupt("exfat: unrecognized critical primary directory entry");
        index += 1 + entry[1]; // a benign primary we do not interpret, with its secondaries
    }
    return false;
}

ErrorOr<bool> Volume::find_entry(const Stream& directory, bool is_root, const Name& name,
                                 uint32_t& index, EntrySet& out) {
    uint16_t hash = name_hash_of(upcase_, name.view());
    index = 0;
    while (TRY(next_entry_set(directory, is_root, index, out))) {
        if (out.stream_entry().name_hash == hash &&
            names_equal(upcase_, out.name.view(), name.view()))
            return true;
        index += out.total;
    }
    return false;
}

ErrorOr<void> Volume::write_entries(const Stream& directory, uint32_t index,
                                    const uint8_t (*entries)[kEntrySize], uint32_t count) {
    uint32_t per_sector = geometry_.sector_size() / kEntrySize;
    for (uint32_t i = 0; i < count; ++i) {
        uint64_t sector = 0;
        uint8_t* slot = TRY(entry_at(directory, index + i, &sector));
        memcpy(slot, entries[i], kEntrySize);
        // Write each sector as soon as its last entry is in: the next lookup may evict it.
        if (i + 1 == count || (index + i + 1) % per_sector == 0)
            TRY(cache_.write_through(sector));
    }
    return {};
}

void Volume::seal_entry_set(EntrySet& set) {
    EntrySetChecksum checksum;
    for (uint32_t i = 0; i < set.held; ++i)
        checksum.add({set.raw[i], kEntrySize}, i == 0);
    set.file().set_checksum = checksum.value();
}

ErrorOr<void> Volume::update_entry_set(const EntryLocation& location, EntrySet& set) {
    EntrySetChecksum checksum;
    for (uint32_t i = 0; i < set.held; ++i)
        checksum.add({set.raw[i], kEntrySize}, i == 0);
    // Secondaries beyond those held in memory (vendor entries) are unchanged on disk.
    for (uint32_t i = set.held; i < set.total; ++i) {
        const uint8_t* entry = TRY(entry_at(location.directory, location.index + i));
        checksum.add({entry, kEntrySize}, false);
    }
    set.file().set_checksum = checksum.value();
    // File and Stream Extension entries only; in the sets we create they share a sector, so
    // this is one atomic sector write.
    return write_entries(location.directory, location.index, set.raw, 2);
}

ErrorOr<void> Volume::delete_entry_set(const EntryLocation& location) {
    uint32_t per_sector = geometry_.sector_size() / kEntrySize;
    uint8_t entry[1][kEntrySize];
    // Head sector first: once the File entry is gone, leftovers in a later sector are stray
    // secondaries every reader skips (and a dirty mount clears), never a broken set.
    uint32_t head = per_sector - location.index % per_sector;
    for (uint32_t i = 0; i < location.entries; ++i) {
        const uint8_t* current = TRY(entry_at(location.directory, location.index + i));
        memcpy(entry[0], current, kEntrySize);
        entry[0][0] = static_cast<uint8_t>(entry[0][0] & ~kEntryInUse);
        TRY(write_entries(location.directory, location.index + i, entry, 1));
        if (i + 1 == head && i + 1 < location.entries)
            TRY(device_.flush());
    }
    return device_.flush();
}

ErrorOr<Volume::Slots> Volume::reserve_slots(DirectoryRef& directory, uint32_t count) {
    uint32_t per_sector = geometry_.sector_size() / kEntrySize;
    for (;;) {
        uint32_t total = entries_in(directory.stream);
        uint32_t run_start = 0;
        uint32_t run = 0;
        uint32_t end_marker = UINT32_MAX; // first end-of-directory entry
        for (uint32_t i = 0; i < total; ++i) {
            bool at_end = end_marker != UINT32_MAX;
            uint8_t type = kEntryEndOfDirectory;
            if (!at_end) {
                const uint8_t* entry = TRY(entry_at(directory.stream, i));
                type = entry[0];
                if (type == kEntryEndOfDirectory) {
                    end_marker = i;
                    at_end = true;
                }
            }
            bool free = at_end || !(type & kEntryInUse);
            bool boundary = i % per_sector == 0;
            if (!free) {
                run = 0;
                continue;
            }
            // A set that fits in a sector must not cross one (so it is written atomically);
            // a longer set starts on a sector boundary in the end-of-directory region.
            if (run > 0 && boundary && count <= per_sector)
                run = 0;
            if (run == 0) {
                if (count > per_sector && !(boundary && at_end))
                    continue;
                run_start = i;
            }
            ++run;
            if (run == count) {
                uint32_t pad_from = end_marker < run_start ? end_marker : run_start;
                return Slots{run_start, pad_from};
            }
        }
        TRY(grow_directory(directory));
    }
}

ErrorOr<void> Volume::grow_directory(DirectoryRef& directory) {
    Stream& stream = directory.stream;
    uint64_t cluster_size = geometry_.cluster_size();
    if (stream.length + cluster_size > kMaxDirectorySize)
        return Error(ErrorCode::out_of_range, "exfat: directory has reached 256 MiB");
    if (free_clusters_ == 0)
        return Error(ErrorCode::out_of_range, "exfat: not enough free space on the volume");
    uint64_t old_count = clusters_for(stream.length);
    uint32_t last = old_count > 0 ? TRY(cluster_at(stream, old_count - 1, nullptr)) : 0;
    uint32_t cluster = 0;
    if (last != 0 && geometry_.valid_cluster(last + 1) && !cluster_allocated(last + 1)) {
        cluster = last + 1;
    } else {
        uint32_t length = 0;
        (void)find_free_run(1, cluster, length);
        if (length == 0)
            return Error(ErrorCode::corrupt, "exfat: free cluster count disagrees with bitmap");
    }
    // The new cluster is zeroed and durable before anything links it into the directory, so
    // no reader can ever see its old contents as entries.
    set_cluster_allocated(cluster, true);
    Stream fresh{cluster, true, cluster_size};
    TRY(stream_zero(fresh, nullptr, 0, cluster_size));
    TRY(write_back_metadata());
    TRY(device_.flush());

    if (old_count == 0) {
        stream = Stream{cluster, true, cluster_size};
    } else {
        if (stream.no_fat_chain && cluster != last + 1) {
            for (uint64_t i = 0; i + 1 < old_count; ++i)
                TRY(fat_set(static_cast<uint32_t>(stream.first_cluster + i),
                            static_cast<uint32_t>(stream.first_cluster + i + 1)));
            stream.no_fat_chain = false;
        }
        if (!stream.no_fat_chain) {
            TRY(fat_set(cluster, kFatEndOfChain));
            TRY(fat_set(last, cluster));
        }
        stream.length += cluster_size;
    }
    directory_cursor_.forget();
    TRY(write_back_metadata());
    TRY(device_.flush());
    if (directory.is_root) {
        root_ = stream;
        return {};
    }
    // The directory's own entry: DataLength (= ValidDataLength), allocation flags.
    EntrySet set;
    TRY(read_entry_set(directory.self.directory, directory.self.index, set));
    StreamExtensionEntry& entry = set.stream_entry();
    entry.first_cluster = stream.first_cluster;
    entry.data_length = stream.length;
    entry.valid_data_length = stream.length;
    entry.general_secondary_flags =
        static_cast<uint8_t>(kFlagAllocationPossible | (stream.no_fat_chain ? kFlagNoFatChain : 0));
    TRY(update_entry_set(directory.self, set));
    return device_.flush();
}

ErrorOr<void> Volume::place_entry_set(DirectoryRef& directory, EntrySet& set,
                                      EntryLocation& location) {
    Slots slots = TRY(reserve_slots(directory, set.total));
    uint32_t per_sector = geometry_.sector_size() / kEntrySize;
    uint32_t head = per_sector - slots.index % per_sector; // entries in the first sector
    if (set.total > head) {
        // Spans sectors (only in the end-of-directory region): the tail goes first and is
        // durable before the head makes the set visible.
        TRY(write_entries(directory.stream, slots.index + head, set.raw + head, set.total - head));
        TRY(device_.flush());
    }
    uint8_t unused[1][kEntrySize] = {};
    unused[0][0] = kEntryUnused;
    for (uint32_t i = slots.pad_from; i < slots.index; ++i)
        TRY(write_entries(directory.stream, i, unused, 1));
    TRY(write_entries(directory.stream, slots.index, set.raw, set.total < head ? set.total : head));
    location = EntryLocation{directory.stream, slots.index, set.total};
    return {};
}

void Volume::build_entry_set(EntrySet& set, const Name& name, uint16_t attributes,
                             const Stream& stream, uint64_t valid_length) {
    memset(set.raw, 0, sizeof(set.raw));
    uint32_t name_entries = (name.length + kNameCharsPerEntry - 1) / kNameCharsPerEntry;
    set.total = set.held = 2 + name_entries;
    set.vendor_allocation = false;
    set.name = name;

    FileEntry& file = set.file();
    file.entry_type = kEntryFile;
    file.secondary_count = static_cast<uint8_t>(1 + name_entries);
    file.file_attributes = attributes;
    PackedTime now = pack_time(clock_.now());
    file.create_timestamp = file.last_modified_timestamp = file.last_accessed_timestamp =
        now.timestamp;
    file.create_10ms_increment = file.last_modified_10ms_increment = now.increment_10ms;
    file.create_utc_offset = file.last_modified_utc_offset = file.last_accessed_utc_offset =
        now.utc_offset;

    StreamExtensionEntry& entry = set.stream_entry();
    entry.entry_type = kEntryStreamExtension;
    bool contiguous = stream.no_fat_chain && stream.first_cluster != 0;
    entry.general_secondary_flags =
        static_cast<uint8_t>(kFlagAllocationPossible | (contiguous ? kFlagNoFatChain : 0));
    entry.name_length = name.length;
    entry.name_hash = name_hash_of(upcase_, name.view());
    entry.valid_data_length = valid_length;
    entry.first_cluster = stream.first_cluster;
    entry.data_length = stream.length;

    for (uint32_t i = 0; i < name_entries; ++i) {
        auto& name_entry = *reinterpret_cast<FileNameEntry*>(set.raw[2 + i]);
        name_entry.entry_type = kEntryFileName;
        for (uint32_t c = 0; c < kNameCharsPerEntry; ++c) {
            uint32_t at = i * kNameCharsPerEntry + c;
            name_entry.file_name[c] = at < name.length ? name.chars[at] : 0;
        }
    }
    seal_entry_set(set);
}

} // namespace halcyon::exfat
