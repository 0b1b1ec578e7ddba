// Mounting (validation before any write), the VolumeDirty flag, sync and unmount.
#include "mgmt/datastore/exfat/volume.hpp"

#include "mgmt/datastore/exfat/check.hpp"
#include "mgmt/datastore/exfat/checksum.hpp"

#include <string.h>

namespace halcyon::exfat {

using namespace layout;

namespace {

Error corrupt(const char* message) {
    return Error(ErrorCode::corrupt, message);
}

} // namespace

Volume::Volume(SectorDevice& device, Allocator& allocator, Clock& clock)
    : device_(device), allocator_(allocator), clock_(clock) {}

Volume::~Volume() {
    release();
}

void Volume::release() {
    upcase_.release();
    cache_.release();
    bitmap_.release();
    bitmap_sectors_.release();
    bitmap_dirty_.release();
    nodes_.release();
    zeros_.release();
    sector_buf_.release();
    mounted_ = false;
}

ErrorOr<void> Volume::mount(const MountOptions& options) {
    if (mounted_)
        return Error(ErrorCode::busy, "exfat: volume is already mounted");
    options_ = options;
    if (options_.max_open_files == 0)
        options_.max_open_files = 1;
    auto result = mount_steps();
    if (result.is_error()) {
        release();
        return result.release_error();
    }
    mounted_ = true;
    return {};
}

ErrorOr<void> Volume::mount_steps() {
    uint32_t sector_size = device_.sector_size();
    if (sector_size < 512 || sector_size > 4096 || (sector_size & (sector_size - 1)) != 0)
        return Error(ErrorCode::not_supported, "exfat: device sector size is not 512..4096");
    read_only_ = options_.read_only || device_.read_only();
    dirty_on_disk_ = false;
    stray_entries_seen_ = 0;
    directory_cursor_.forget();
    directory_cursor_owner_ = 0;
    info_ = VolumeInfo{};
    sector_buf_ = TRY(Buffer::allocate(allocator_, sector_size));
    zeros_ = TRY(Buffer::allocate(allocator_, kZeroBytes));
    TRY(cache_.init(allocator_, device_, options_.cache_sectors));

    TRY(load_boot_regions());

    uint32_t fat0 = TRY(fat_get_raw(0));
    uint32_t fat1 = TRY(fat_get_raw(1));
    if ((fat0 | 0xFF) != 0xFFFFFFFF || fat1 != kFatEntryOne)
        return corrupt("exfat: FAT entries 0 and 1 do not hold their fixed values");

    // The root directory is a FAT chain with no entry of its own: its length is the chain's.
    uint64_t max_clusters = kMaxDirectorySize >> geometry_.cluster_shift;
    uint64_t clusters = 1;
    for (uint32_t c = geometry_.root_cluster;; ++clusters) {
        uint32_t next = TRY(fat_get(c));
        if (next == kFatEndOfChain)
            break;
        if (!geometry_.valid_cluster(next))
            return corrupt("exfat: root directory FAT chain points outside the cluster heap");
        if (clusters >= max_clusters || clusters >= geometry_.cluster_count)
            return corrupt("exfat: root directory chain loops or exceeds 256 MiB");
        c = next;
    }
    root_ = Stream{geometry_.root_cluster, false, clusters << geometry_.cluster_shift};
    TRY(load_root_entries());

    nodes_ = TRY(Buffer::allocate(allocator_, size_t{options_.max_open_files} * sizeof(OpenNode)));
    for (uint32_t i = 0; i < options_.max_open_files; ++i)
        new (nodes_.as<OpenNode>() + i) OpenNode();

    // Everything reachable is validated before anything is written.
    info_.was_dirty = (geometry_.volume_flags & kVolumeFlagDirty) != 0;
    dirty_on_disk_ = info_.was_dirty;
    Checker checker(*this);
    CheckReport report = TRY(checker.run(false));
    if (info_.was_dirty && !read_only_ &&
        (report.leaked_clusters || report.excess_chains || report.stray_entries ||
         report.duplicate_entries)) {
        // Only what a power cut leaves behind is repaired, and only after the whole tree
        // proved free of real damage in the pass above.
        report = TRY(checker.run(true));
        report.repaired = true;
    }
    info_.check = report;
    return {};
}

ErrorOr<uint32_t> Volume::fat_get_raw(uint32_t index) {
    uint64_t byte = uint64_t(index) * 4;
    uint8_t* data = TRY(cache_.get(geometry_.fat_offset + (byte >> geometry_.sector_shift)));
    uint32_t value;
    memcpy(&value, data + (byte & (geometry_.sector_size() - 1)), 4);
    return value;
}

ErrorOr<void> Volume::load_boot_regions() {
    uint32_t sector_size = device_.sector_size();
    uint64_t device_sectors = device_.sector_count();
    if (device_sectors < 2ull * kBootRegionSectors)
        return Error(ErrorCode::corrupt, "exfat: device is too small to hold an exFAT volume");
    size_t region_bytes = size_t{kBootRegionSectors} * sector_size;
    Buffer regions = TRY(Buffer::allocate(allocator_, 2 * region_bytes));
    TRY(device_.read(0, regions.span()));
    auto main = regions.span().first(region_bytes);
    auto backup = regions.span().subspan(region_bytes);
    auto parsed = parse_boot_region(main, sector_size, device_sectors);
    if (parsed.is_error()) {
        // Say whether the backup would have been usable: the user's next step depends on it.
        if (parse_boot_region(backup, sector_size, device_sectors).is_error())
            return parsed.release_error();
        Error error = parsed.release_error();
        if (error.code() == ErrorCode::corrupt)
            return corrupt("exfat: main boot region is damaged (the backup region is intact)");
        return error;
    }
    geometry_ = parsed.release_value();
    auto backup_parsed = parse_boot_region(backup, sector_size, device_sectors);
    if (backup_parsed.is_error())
        return corrupt("exfat: backup boot region is damaged (the main region is intact)");
    if (!boot_regions_match(main, backup))
        return corrupt("exfat: backup boot region differs from the main boot region");
    if (geometry_.volume_flags & kVolumeFlagMediaFailure)
        return Error(ErrorCode::io, "exfat: volume is flagged with a media failure");
    return {};
}

ErrorOr<void> Volume::load_root_entries() {
    uint32_t bitmap_first = 0;
    uint64_t bitmap_length = 0;
    uint32_t upcase_first = 0;
    uint64_t upcase_length = 0;
    uint32_t upcase_checksum = 0;
    bool have_bitmap = false;
    bool have_upcase = false;
    bool have_label = false;
    uint32_t count = entries_in(root_);
    for (uint32_t i = 0; i < count; ++i) {
        const uint8_t* entry = TRY(entry_at(root_, i));
        uint8_t type = entry[0];
        if (type == kEntryEndOfDirectory)
            break;
        if (type == kEntryAllocationBitmap) {
            const auto& e = *reinterpret_cast<const AllocationBitmapEntry*>(entry);
            if (have_bitmap)
                return corrupt("exfat: root directory has two allocation bitmap entries");
            if (e.bitmap_flags & 1)
                return corrupt("exfat: allocation bitmap entry describes a second bitmap");
            have_bitmap = true;
            bitmap_first = e.first_cluster;
            bitmap_length = e.data_length;
        } else if (type == kEntryUpcaseTable) {
            const auto& e = *reinterpret_cast<const UpcaseTableEntry*>(entry);
            if (have_upcase)
                return corrupt("exfat: root directory has two up-case table entries");
            have_upcase = true;
            upcase_first = e.first_cluster;
            upcase_length = e.data_length;
            upcase_checksum = e.table_checksum;
        } else if (type == kEntryVolumeLabel) {
            const auto& e = *reinterpret_cast<const VolumeLabelEntry*>(entry);
            if (have_label)
                return corrupt("exfat: root directory has two volume label entries");
            if (e.character_count > kMaxLabelLength)
                return corrupt("exfat: volume label is longer than 11 characters");
            have_label = true;
            uint16_t label[kMaxLabelLength];
            memcpy(label, e.volume_label, sizeof(label));
            size_t n =
                name_to_utf8({label, e.character_count}, {info_.label, sizeof(info_.label) - 1});
            info_.label[n] = '\0';
        } else if ((type & kEntryInUse) && !(type & kEntryCategorySecondary)) {
            i += entry[1]; // another primary: skip its secondaries (the checker validates it)
        }
    }
    if (!have_bitmap)
        return corrupt("exfat: root directory has no allocation bitmap entry");
    if (!have_upcase)
        return corrupt("exfat: root directory has no up-case table entry");
    TRY(load_upcase(upcase_first, upcase_length, upcase_checksum));
    TRY(load_bitmap(bitmap_first, bitmap_length));
    return {};
}

ErrorOr<void> Volume::load_bitmap(uint32_t first_cluster, uint64_t length) {
    uint64_t needed = (uint64_t(geometry_.cluster_count) + 7) / 8;
    if (!geometry_.valid_cluster(first_cluster))
        return corrupt("exfat: allocation bitmap FirstCluster is outside the cluster heap");
    if (length < needed)
        return corrupt("exfat: allocation bitmap is smaller than ClusterCount needs");
    if (length > geometry_.heap_bytes())
        return corrupt("exfat: allocation bitmap DataLength is larger than the heap");
    uint32_t sector_size = geometry_.sector_size();
    bitmap_sector_count_ = static_cast<uint32_t>((needed + sector_size - 1) / sector_size);
    bitmap_ = TRY(Buffer::allocate(allocator_, size_t{bitmap_sector_count_} * sector_size));
    bitmap_sectors_ = TRY(Buffer::allocate(allocator_, bitmap_sector_count_ * sizeof(uint64_t)));
    bitmap_dirty_ = TRY(Buffer::allocate(allocator_, (bitmap_sector_count_ + 7) / 8));
    bitmap_stream_ = Stream{first_cluster, false, length};
    ChainCursor cursor;
    uint64_t* sectors = bitmap_sectors_.as<uint64_t>();
    for (uint32_t i = 0; i < bitmap_sector_count_; ++i) {
        uint64_t byte = uint64_t(i) * sector_size;
        uint32_t cluster =
            TRY(cluster_at(bitmap_stream_, byte >> geometry_.cluster_shift, &cursor));
        sectors[i] = geometry_.cluster_sector(cluster) +
                     ((byte & (geometry_.cluster_size() - 1)) >> geometry_.sector_shift);
    }
    // Read runs of consecutive sectors in one request each.
    for (uint32_t i = 0; i < bitmap_sector_count_;) {
        uint32_t run = 1;
        while (i + run < bitmap_sector_count_ && sectors[i + run] == sectors[i] + run)
            ++run;
        TRY(device_.read(sectors[i], bitmap_.span().subspan(size_t{i} * sector_size,
                                                            size_t{run} * sector_size)));
        i += run;
    }
    free_clusters_ = 0;
    for (uint32_t c = 0; c < geometry_.cluster_count; ++c)
        if (!cluster_allocated(kFirstCluster + c))
            ++free_clusters_;
    return {};
}

ErrorOr<void> Volume::load_upcase(uint32_t first_cluster, uint64_t length, uint32_t checksum) {
    if (!geometry_.valid_cluster(first_cluster))
        return corrupt("exfat: up-case table FirstCluster is outside the cluster heap");
    if (length == 0 || length > kMaxUpcaseTableBytes)
        return corrupt("exfat: up-case table DataLength is zero or larger than 128 KiB");
    upcase_stream_ = Stream{first_cluster, false, length};
    Buffer table = TRY(Buffer::allocate(allocator_, length));
    TRY(stream_read(upcase_stream_, nullptr, 0, table.span()));
    if (table_checksum(table.span()) != checksum)
        return corrupt("exfat: up-case table checksum mismatch");
    return upcase_.load(allocator_, table.span());
}

ErrorOr<void> Volume::set_volume_dirty(bool dirty) {
    TRY(device_.read(0, sector_buf_.span()));
    auto& boot = *sector_buf_.as<BootSector>();
    uint16_t flags = boot.volume_flags;
    boot.volume_flags = dirty ? flags | kVolumeFlagDirty : flags & ~kVolumeFlagDirty;
    if (!dirty) {
        // PercentInUse is outside the checksum; keep it current at every clean point.
        uint64_t used = geometry_.cluster_count - free_clusters_;
        boot.percent_in_use = static_cast<uint8_t>(used * 100 / geometry_.cluster_count);
    }
    TRY(device_.write(0, sector_buf_.span()));
    TRY(device_.flush());
    dirty_on_disk_ = dirty;
    return {};
}

ErrorOr<void> Volume::begin_update() {
    if (!mounted_)
        return Error(ErrorCode::invalid_argument, "exfat: volume is not mounted");
    if (read_only_)
        return Error(ErrorCode::permission, "exfat: volume is mounted read-only");
    if (!dirty_on_disk_)
        TRY(set_volume_dirty(true));
    return {};
}

ErrorOr<void> Volume::write_back_metadata() {
    TRY(cache_.write_back());
    return write_bitmap();
}

ErrorOr<void> Volume::sync() {
    if (!mounted_)
        return Error(ErrorCode::invalid_argument, "exfat: volume is not mounted");
    if (read_only_)
        return {};
    bool writers = false;
    OpenNode* nodes = nodes_.as<OpenNode>();
    for (uint32_t i = 0; i < options_.max_open_files; ++i) {
        if (nodes[i].handles == 0)
            continue;
        if (nodes[i].entry_dirty)
            TRY(commit_node(nodes[i]));
        writers = writers || nodes[i].writers > 0;
    }
    TRY(write_back_metadata());
    TRY(device_.flush());
    if (dirty_on_disk_ && !writers)
        TRY(set_volume_dirty(false));
    return {};
}

ErrorOr<void> Volume::unmount() {
    if (!mounted_)
        return Error(ErrorCode::invalid_argument, "exfat: volume is not mounted");
    OpenNode* nodes = nodes_.as<OpenNode>();
    for (uint32_t i = 0; i < options_.max_open_files; ++i)
        if (nodes[i].handles > 0)
            return Error(ErrorCode::busy, "exfat: files are still open");
    TRY(sync());
    release();
    return {};
}

const VolumeInfo& Volume::info() {
    info_.sector_size = geometry_.sector_size();
    info_.cluster_size = geometry_.cluster_size();
    info_.cluster_count = geometry_.cluster_count;
    info_.free_clusters = free_clusters_;
    info_.serial = geometry_.serial;
    info_.revision = geometry_.revision;
    info_.read_only = read_only_;
    return info_;
}

} // namespace halcyon::exfat
