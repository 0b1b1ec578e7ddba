// An exFAT volume on a SectorDevice: mount (validating every structure), directories, files,
// rename/remove, sync and a clean unmount. The datastore of Halcyon: VHDX files, VM
// configurations and kernels live here, in the standard on-disk format any OS can read.
//
// Not thread-safe: the caller serializes calls (the hypervisor holds one lock per volume).
// Paths are UTF-8, '/'-separated, relative to the root (a leading '/' is optional); names
// compare case-insensitively through the volume's up-case table.
//
// Crash ordering (docs/datastore.md): data and allocation (FAT, bitmap) are written and flushed
// before the directory entry that makes them reachable; entries are removed and flushed before
// their clusters are freed. Every file this library changes is committed with ValidDataLength ==
// DataLength (never-written bytes are zero-filled first), because Linux before 6.8 takes
// ValidDataLength for the file's size. A power cut can leak clusters or leave a FAT chain longer
// than its file; mounting a volume whose VolumeDirty flag is set repairs exactly those.
#pragma once

#include "mgmt/datastore/exfat/boot_region.hpp"
#include "mgmt/datastore/exfat/clock.hpp"
#include "mgmt/datastore/exfat/directory_reader.hpp"
#include "mgmt/datastore/exfat/file.hpp"
#include "mgmt/datastore/exfat/memory.hpp"
#include "mgmt/datastore/exfat/sector_cache.hpp"
#include "mgmt/datastore/exfat/sector_device.hpp"
#include "mgmt/datastore/exfat/types.hpp"
#include "mgmt/datastore/exfat/upcase.hpp"

#include <stdint.h>
#include <string_view>

namespace halcyon::exfat {

struct MountOptions {
    bool read_only = false;
    uint32_t max_open_files = 64; // distinct files open at once
    uint32_t cache_sectors = 32;  // metadata sector cache
};

// What the mount-time check found (and, on a dirty writable volume, repaired).
struct CheckReport {
    uint32_t directories = 0;
    uint32_t files = 0;
    uint64_t used_clusters = 0;     // referenced by some structure
    uint64_t leaked_clusters = 0;   // marked in the bitmap, referenced by nothing
    uint32_t excess_chains = 0;     // FAT chains longer than their DataLength
    uint32_t stray_entries = 0;     // in-use secondary entries with no primary
    uint32_t duplicate_entries = 0; // two names for one allocation (an interrupted move)
    // Files with ValidDataLength < DataLength: legal (Windows leaves them), never damage, but
    // Linux before 6.8 shows them cut at ValidDataLength. Files we commit never are.
    uint32_t partially_valid_files = 0;
    bool repaired = false;
};

struct VolumeInfo {
    uint32_t sector_size = 0;
    uint32_t cluster_size = 0;
    uint32_t cluster_count = 0;
    uint64_t free_clusters = 0;
    uint32_t serial = 0;
    uint16_t revision = 0;
    bool was_dirty = false; // VolumeDirty was set when mounted (an unclean shutdown)
    bool read_only = false;
    char label[layout::kMaxLabelLength * 3 + 1] = {};
    CheckReport check;
};

enum class OpenMode { read, read_write };
enum class Disposition {
    open_existing, // fails with not_found
    create_new,    // fails with already_exists
    open_or_create,
    create_or_truncate // an existing file is truncated to 0
};

class Checker;

class Volume {
public:
    Volume(SectorDevice& device, Allocator& allocator, Clock& clock);
    Volume(const Volume&) = delete;
    Volume& operator=(const Volume&) = delete;
    // Releases memory; does not write (call unmount() for a clean shutdown).
    ~Volume();

    // Reads and validates the boot regions, FAT, allocation bitmap, up-case table and every
    // directory entry set and cluster chain. A volume with real damage is refused with an
    // error naming what is wrong, and nothing is written. A volume whose VolumeDirty flag is
    // set (unclean shutdown) and that is mounted writable gets the leaks and over-long chains
    // a power cut can leave repaired first.
    [[nodiscard]] ErrorOr<void> mount(const MountOptions& options = {});
    // Writes everything back, clears VolumeDirty and releases the volume. Refused (busy) while
    // files are open.
    [[nodiscard]] ErrorOr<void> unmount();
    // Makes every completed operation durable; clears VolumeDirty when no file is open for
    // writing.
    [[nodiscard]] ErrorOr<void> sync();

    [[nodiscard]] bool mounted() const { return mounted_; }
    [[nodiscard]] const VolumeInfo& info();

    [[nodiscard]] ErrorOr<void> create_directory(std::string_view path);
    // Removes a file or an empty directory. Refused (busy) while the file is open.
    [[nodiscard]] ErrorOr<void> remove(std::string_view path);
    // Renames or moves a file or directory; `to` must not exist (a change of case only is fine).
    [[nodiscard]] ErrorOr<void> rename(std::string_view from, std::string_view to);
    [[nodiscard]] ErrorOr<void> stat(std::string_view path, EntryInfo& out);
    [[nodiscard]] ErrorOr<File> open(std::string_view path, OpenMode mode,
                                     Disposition disposition = Disposition::open_existing);
    [[nodiscard]] ErrorOr<DirectoryReader> open_directory(std::string_view path);
    // Walks the whole tree again (read-only) and reports what it finds.
    [[nodiscard]] ErrorOr<CheckReport> check();

private:
    friend class File;
    friend class DirectoryReader;
    friend class Checker;

    // The shared state of an open file; File handles point at one of these.
    struct OpenNode {
        uint32_t handles = 0;
        uint32_t writers = 0;
        EntryLocation location;
        Stream stream;
        uint64_t valid_length = 0;
        uint16_t attributes = 0;
        ChainCursor cursor; // cursor.points -> points
        ChainIndex points;
        bool entry_dirty = false; // sizes/allocation changed since the entry was last written
        bool modified = false;    // contents changed: update LastModified at the next commit
    };

    // --- mount (volume_mount.cpp) ---
    [[nodiscard]] ErrorOr<void> mount_steps();
    [[nodiscard]] ErrorOr<void> load_boot_regions();
    [[nodiscard]] ErrorOr<void> load_root_entries();
    [[nodiscard]] ErrorOr<void> load_bitmap(uint32_t first_cluster, uint64_t length);
    [[nodiscard]] ErrorOr<void> load_upcase(uint32_t first_cluster, uint64_t length,
                                            uint32_t checksum);
    [[nodiscard]] ErrorOr<void> set_volume_dirty(bool dirty);
    [[nodiscard]] ErrorOr<void> begin_update(); // VolumeDirty on, before the first change
    [[nodiscard]] ErrorOr<void> write_back_metadata();
    void release();

    // --- clusters, FAT, bitmap, stream I/O (volume_clusters.cpp) ---
    [[nodiscard]] ErrorOr<uint32_t> fat_get(uint32_t cluster);
    [[nodiscard]] ErrorOr<uint32_t> fat_get_raw(uint32_t index); // entries 0 and 1 too
    [[nodiscard]] ErrorOr<void> fat_set(uint32_t cluster, uint32_t value);
    [[nodiscard]] bool cluster_allocated(uint32_t cluster) const;
    void set_cluster_allocated(uint32_t cluster, bool allocated);
    [[nodiscard]] ErrorOr<void> write_bitmap();
    [[nodiscard]] uint64_t clusters_for(uint64_t bytes) const;
    static void record_point(ChainIndex& points, uint64_t position, uint32_t cluster);
    // The cluster holding cluster `index` of `stream` (validating the chain as it goes).
    [[nodiscard]] ErrorOr<uint32_t> cluster_at(const Stream& stream, uint64_t index,
                                               ChainCursor* cursor);
    // How many clusters from `cluster` (index `index` of the stream) on are physically
    // consecutive, up to `limit`.
    [[nodiscard]] ErrorOr<uint64_t> contiguous_run(const Stream& stream, uint64_t index,
                                                   uint32_t cluster, uint64_t limit,
                                                   ChainCursor* cursor);
    // Reads or writes bytes [offset, offset + size) inside the stream's allocation.
    [[nodiscard]] ErrorOr<void> stream_read(const Stream& stream, ChainCursor* cursor,
                                            uint64_t offset, std::span<uint8_t> out);
    [[nodiscard]] ErrorOr<void> stream_write(const Stream& stream, ChainCursor* cursor,
                                             uint64_t offset, std::span<const uint8_t> data);
    // Writes zeros over bytes [offset, offset + size) of the stream's allocation.
    [[nodiscard]] ErrorOr<void> stream_zero(const Stream& stream, ChainCursor* cursor,
                                            uint64_t offset, uint64_t size);
    // Byte-addressed device I/O (absolute byte offsets); partial sectors are read-modified-
    // written. Writes drop cached copies of the sectors they overwrite.
    [[nodiscard]] ErrorOr<void> device_read_bytes(uint64_t address, std::span<uint8_t> out);
    [[nodiscard]] ErrorOr<void> device_write_bytes(uint64_t address, std::span<const uint8_t> data);
    [[nodiscard]] ErrorOr<void> device_zero_bytes(uint64_t address, uint64_t size);
    template <typename Transfer>
    [[nodiscard]] ErrorOr<void> stream_transfer(const Stream& stream, ChainCursor* cursor,
                                                uint64_t offset, uint64_t size, Transfer transfer);

    // --- allocation (volume_allocate.cpp) ---
    // Grows `stream` to hold `new_length` bytes (allocation and FAT only; the caller commits
    // the entry). All or nothing: on error nothing is allocated.
    [[nodiscard]] ErrorOr<void> grow(Stream& stream, uint64_t new_length, ChainCursor* cursor);
    // Frees the clusters beyond `new_length` (call only after the entry that no longer
    // references them is durable).
    [[nodiscard]] ErrorOr<void> shrink(Stream& stream, uint64_t new_length, ChainCursor* cursor);
    [[nodiscard]] ErrorOr<void> free_stream(const Stream& stream);
    [[nodiscard]] bool find_free_run(uint32_t want, uint32_t& start, uint32_t& length) const;

    // --- entry sets and directories (volume_entries.cpp) ---
    [[nodiscard]] ErrorOr<uint8_t*> entry_at(const Stream& directory, uint32_t index,
                                             uint64_t* sector_out = nullptr);
    [[nodiscard]] uint32_t entries_in(const Stream& directory) const;
    // Parses and validates the entry set whose File entry is at `index`.
    [[nodiscard]] ErrorOr<void> read_entry_set(const Stream& directory, uint32_t index,
                                               EntrySet& out);
    // Next File entry set at or after `index` (skipping unused entries and the root's
    // bitmap/up-case/label entries); false at the end of the directory.
    [[nodiscard]] ErrorOr<bool> next_entry_set(const Stream& directory, bool is_root,
                                               uint32_t& index, EntrySet& out);
    [[nodiscard]] ErrorOr<bool> find_entry(const Stream& directory, bool is_root, const Name& name,
                                           uint32_t& index, EntrySet& out);
    // Writes entries [first, first + count) of `set` at `index` (recomputing the checksum).
    [[nodiscard]] ErrorOr<void> write_entries(const Stream& directory, uint32_t index,
                                              const uint8_t (*entries)[layout::kEntrySize],
                                              uint32_t count);
    void seal_entry_set(EntrySet& set);
    // Rewrites the File and Stream Extension entries of the set at `location` with `set`'s.
    [[nodiscard]] ErrorOr<void> update_entry_set(const EntryLocation& location, EntrySet& set);
    // Marks the entries of a set unused (head sector first) and flushes.
    [[nodiscard]] ErrorOr<void> delete_entry_set(const EntryLocation& location);
    // Finds `count` free slots in the directory, growing it if needed.
    struct Slots {
        uint32_t index;    // where the set goes
        uint32_t pad_from; // end-of-directory entries in [pad_from, index) become unused
    };
    [[nodiscard]] ErrorOr<Slots> reserve_slots(DirectoryRef& directory, uint32_t count);
    [[nodiscard]] ErrorOr<void> grow_directory(DirectoryRef& directory);
    // Writes a new entry set into reserved slots (tail first for a set spanning sectors).
    [[nodiscard]] ErrorOr<void> place_entry_set(DirectoryRef& directory, EntrySet& set,
                                                EntryLocation& location);
    void build_entry_set(EntrySet& set, const Name& name, uint16_t attributes, const Stream& stream,
                         uint64_t valid_length);

    // --- paths and operations (volume_paths.cpp) ---
    // Resolves all but the last component of `path` to a directory; `leaf` gets the last.
    // `forbidden` (when not 0): fail if any directory on the way has that first cluster (a
    // directory may not be moved into itself).
    [[nodiscard]] ErrorOr<void> resolve_parent(std::string_view path, DirectoryRef& parent,
                                               Name& leaf, bool& is_root_itself,
                                               uint32_t forbidden = 0);
    [[nodiscard]] ErrorOr<void> resolve_directory(std::string_view path, DirectoryRef& out);
    [[nodiscard]] OpenNode* find_node(const EntryLocation& location);
    void fill_info(const EntrySet& set, EntryInfo& out) const;

    // --- open files (file.cpp) ---
    [[nodiscard]] ErrorOr<void> commit_node(OpenNode& node);
    void close_node(OpenNode& node, bool writer);

    SectorDevice& device_;
    Allocator& allocator_;
    Clock& clock_;
    MountOptions options_;
    Geometry geometry_;
    VolumeInfo info_;
    bool mounted_ = false;
    bool read_only_ = false;
    bool dirty_on_disk_ = false; // VolumeDirty as last written

    UpcaseTable upcase_;
    SectorCache cache_;
    Stream root_;
    Buffer bitmap_;         // the allocation bitmap, one bit per cluster
    Buffer bitmap_sectors_; // device sector of each bitmap sector (uint64_t each)
    Buffer bitmap_dirty_;   // one bit per bitmap sector
    uint32_t bitmap_sector_count_ = 0;
    Stream bitmap_stream_;
    Stream upcase_stream_;
    uint64_t free_clusters_ = 0;
    uint32_t allocation_hint_ = layout::kFirstCluster;
    Buffer nodes_; // OpenNode[options_.max_open_files]
    // Where the last directory walk stood, so listing a chained directory is not quadratic.
    ChainCursor directory_cursor_;
    uint32_t directory_cursor_owner_ = 0;
    uint32_t stray_entries_seen_ = 0; // in-use secondaries with no primary, skipped by scans
    bool clear_strays_ = false;       // the repair pass: scans mark strays unused
    Buffer zeros_;                    // kZeroBytes of zeros, the source for zero-filling
    Buffer sector_buf_;               // one sector, for partial-sector read-modify-write
    // The core's bounce buffer is 256 KiB: one zero-fill chunk is one device command.
    static constexpr uint32_t kZeroBytes = 256 * 1024;
};

} // namespace halcyon::exfat
