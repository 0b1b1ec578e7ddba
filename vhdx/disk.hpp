// A VHDX virtual disk (MS-VHDX v1): fixed, dynamic and differencing disks over a BlockIo.
//
// Threading: a Disk is not thread-safe; callers serialize calls. Memory: everything comes from
// the Allocator given to create()/open(); the Disk object itself too (close() or abandon()
// releases it). I/O: only through the BlockIo (and the parents' BlockIos from the
// ParentResolver).
//
// Crash safety: every metadata change (BAT entries, sector bitmaps, metadata region) is written
// to the log and flushed before it is applied to its final location, then flushed again; the
// headers are updated with the spec's two-copy alternation (each copy is written and flushed on
// its own, so one valid copy always survives a torn write). Guest data is written and flushed
// before the log entry that makes it visible, so a crash can leak space but never expose stale
// or foreign bytes. Data writes become durable at flush(), like a disk's write cache.
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/allocator.hpp"
#include "vhdx/block_io.hpp"
#include "vhdx/guid.hpp"
#include "vhdx/random_source.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::vhdx {

inline constexpr uint64_t kMiB = 1024 * 1024;
// The largest virtual disk MS-VHDX allows (64 TiB).
inline constexpr uint64_t kMaxVirtualSize = 64ull << 40;
inline constexpr uint32_t kMinBlockSize = 1 * kMiB;
inline constexpr uint32_t kMaxBlockSize = 256 * kMiB;
// How deep a differencing chain may be (guards against cycles in parent locators).
inline constexpr uint32_t kMaxParentDepth = 64;

enum class DiskType : uint8_t { fixed, dynamic, differencing };

// Payload block states (MS-VHDX 2.5.1.1); the numeric values are the on-disk ones.
enum class BlockState : uint8_t {
    not_present = 0,
    undefined = 1,
    zero = 2,
    unmapped = 3,
    fully_present = 6,
    partially_present = 7,
};

// One key/value pair of the parent locator, decoded from UTF-16LE to UTF-8. The views point
// into memory owned by the Disk and stay valid until close()/abandon().
struct ParentLocatorEntry {
    std::string_view key;
    std::string_view value;
};

struct CreateOptions {
    DiskType type = DiskType::dynamic;
    // Bytes, a multiple of the logical sector size, at most kMaxVirtualSize. For differencing
    // disks 0 means "the parent's size" (any other value must equal it).
    uint64_t virtual_size = 0;
    uint32_t block_size = 32 * kMiB;      // power of two, 1..256 MiB
    uint32_t logical_sector_size = 512;   // 512 or 4096 (differencing: must match the parent)
    uint32_t physical_sector_size = 4096; // 512 or 4096
    uint32_t log_size = 1 * kMiB;         // multiple of 1 MiB, 1 MiB..1 GiB
    Guid disk_id{};                       // page 83 id; zero = a random one
    RandomSource* random = nullptr;       // required

    // Differencing disks only. The parent is found through parent_resolver with these paths
    // (as ParentResolver::open_parent receives them); the paths are recorded in the parent
    // locator (relative_path as "relative_path", absolute_path as "absolute_win32_path",
    // volume_path as "volume_path" when not empty) together with parent_linkage = the
    // parent's DataWriteGuid. UTF-8.
    ParentResolver* parent_resolver = nullptr;
    std::string_view parent_relative_path;
    std::string_view parent_absolute_path;
    std::string_view parent_volume_path;
};

struct OpenOptions {
    bool read_only = false;
    // A file whose log is not empty (it was not closed cleanly) needs its log replayed before it
    // can be read. Writable opens always replay. Read-only opens refuse such a file unless this
    // is set, in which case the log is replayed onto the file (the BlockIo must be writable)
    // and the disk is then used read-only.
    bool allow_replay = false;
    // Opens a differencing disk even when the parent's DataWriteGuid does not match the
    // child's parent_linkage (for repair tools; the data seen may be wrong).
    bool ignore_parent_linkage = false;
    // Needed for differencing disks; parents are opened read-only.
    ParentResolver* parent_resolver = nullptr;
    // Needed for writable opens and for replay (new FileWriteGuid/DataWriteGuid/LogGuid).
    RandomSource* random = nullptr;
};

struct BlockStateCounts {
    uint64_t not_present = 0;
    uint64_t undefined = 0;
    uint64_t zero = 0;
    uint64_t unmapped = 0;
    uint64_t fully_present = 0;
    uint64_t partially_present = 0;
    uint64_t sector_bitmap_present = 0; // sector bitmap blocks allocated
};

struct MetadataItemInfo {
    Guid id;
    uint32_t offset; // within the metadata region
    uint32_t length;
    bool is_user;
    bool is_virtual_disk;
    bool is_required;
};

struct DiskInfo {
    DiskType type;
    uint64_t virtual_size;
    uint32_t block_size;
    uint32_t logical_sector_size;
    uint32_t physical_sector_size;
    bool leave_blocks_allocated;
    bool has_parent;
    uint32_t chunk_ratio;    // payload blocks per sector bitmap block
    uint64_t payload_blocks; // BAT payload entries
    uint64_t bat_offset;     // file offsets and lengths of the regions
    uint32_t bat_length;
    uint64_t metadata_offset;
    uint32_t metadata_length;
    uint64_t log_offset;
    uint32_t log_length;
    uint64_t header_sequence_number;
    Guid disk_id; // page 83 data
    Guid file_write_guid;
    Guid data_write_guid;
    Guid log_guid;     // zero when the log is empty
    bool log_replayed; // open() found a dirty log and replayed it
    uint64_t file_size;
    std::span<const ParentLocatorEntry> parent_locator; // empty unless differencing
    uint32_t metadata_item_count;
    BlockStateCounts blocks;
};

struct DiskImpl;

class Disk {
public:
    // Creates a new VHDX in io (which should be empty; it is truncated) and returns it open for
    // writing. Fixed disks get every block allocated (fully present) now.
    [[nodiscard]] static ErrorOr<Disk*> create(BlockIo& io, Allocator& allocator,
                                               const CreateOptions& options);
    // Opens an existing VHDX: validates the file identifier, headers, region tables, metadata
    // and BAT, replays a dirty log (see OpenOptions::allow_replay) and opens the parent chain.
    [[nodiscard]] static ErrorOr<Disk*> open(BlockIo& io, Allocator& allocator,
                                             const OpenOptions& options);

    // Guest I/O. offset and buffer size are bytes, multiples of the logical sector size, and
    // the range must lie within the virtual size.
    [[nodiscard]] ErrorOr<void> read(uint64_t offset, std::span<uint8_t> buffer);
    [[nodiscard]] ErrorOr<void> write(uint64_t offset, std::span<const uint8_t> data);
    // Makes every completed write durable.
    [[nodiscard]] ErrorOr<void> flush();
    // Discards a range (logical-sector aligned). Blocks wholly inside it stop using file
    // space (dynamic: UNMAPPED, differencing: ZERO, so the parent no longer shows through);
    // both read as zeros afterwards. Partial blocks and fixed disks keep their data: a trim is a
    // hint, so their contents are unchanged. The freed space is reclaimed by compaction.
    [[nodiscard]] ErrorOr<void> trim(uint64_t offset, uint64_t length);

    [[nodiscard]] DiskInfo info() const;
    // The parent of a differencing disk (open read-only), else nullptr.
    [[nodiscard]] Disk* parent() const;
    // The state of payload block `block` (0-based, virtual offset / block size) and, when it
    // has one, its file offset (0 otherwise).
    [[nodiscard]] ErrorOr<BlockState> block_state(uint64_t block, uint64_t* file_offset) const;

    // Metadata items (system and user-defined). read_metadata copies up to out.size() bytes and
    // returns the item's length. write_metadata creates or replaces a user item (through the
    // log); remove_metadata deletes one. System items cannot be written or removed here.
    [[nodiscard]] uint32_t metadata_item_count() const;
    [[nodiscard]] MetadataItemInfo metadata_item(uint32_t index) const;
    [[nodiscard]] ErrorOr<uint32_t> read_metadata(const Guid& id, std::span<uint8_t> out) const;
    [[nodiscard]] ErrorOr<void> write_metadata(const Guid& id, std::span<const uint8_t> data,
                                               bool is_virtual_disk);
    [[nodiscard]] ErrorOr<void> remove_metadata(const Guid& id);

    // Flushes, empties the log and finalizes the headers (the file is then clean), closes the
    // parent chain and releases the Disk. The pointer is invalid afterwards even on error.
    [[nodiscard]] ErrorOr<void> close();
    // Releases the Disk and its parents without writing anything (what a crash leaves behind;
    // used by crash tests and after fatal I/O errors).
    void abandon();

    DiskImpl& impl() { return *impl_; }
    const DiskImpl& impl() const { return *impl_; }

private:
    explicit Disk(DiskImpl* impl) : impl_(impl) {}
    friend struct DiskImpl;
    DiskImpl* impl_;
};

} // namespace halcyon::vhdx
