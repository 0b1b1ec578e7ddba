// Opening, closing and describing a disk; the Disk facade's forwarding functions.
#include "vhdx/disk_impl.hpp"
#include "vhdx/log_replay.hpp"

#include <new>
#include <string.h>

namespace halcyon::vhdx {
namespace {

ErrorOr<DiskImpl*> new_impl(Allocator& allocator) {
    void* memory = allocator.allocate(sizeof(DiskImpl), alignof(DiskImpl));
    if (memory == nullptr)
        return Error(ErrorCode::out_of_memory, "vhdx: out of memory for the disk");
    return new (memory) DiskImpl();
}

// Replays a dirty log (if the header names one) and clears LogGuid.
ErrorOr<void> replay_if_dirty(DiskImpl& disk, const OpenOptions& options) {
    if (disk.header.header.log_guid.is_zero())
        return {};
    if (options.read_only && !options.allow_replay)
        return Error(ErrorCode::permission,
                     "log replay: the file was not closed cleanly and its log must be replayed; "
                     "open it writable or allow replay");
    if (disk.io->read_only())
        return Error(ErrorCode::permission,
                     "log replay: the file was not closed cleanly and is read-only, so its log "
                     "cannot be replayed");
    if (options.random == nullptr)
        return Error(ErrorCode::invalid_argument, "log replay: needs a RandomSource");
    const format::Header& h = disk.header.header;
    if (h.log_offset < format::kHeaderSectionSize)
        return Error(ErrorCode::corrupt, "log replay: log overlaps the header section");
    TRY(replay_log(*disk.io, *disk.allocator, h.log_guid, h.log_offset, h.log_length, true));
    format::Header next = h;
    next.log_guid = Guid{};
    next.file_write_guid = Guid::random(*options.random);
    TRY(update_header(*disk.io, disk.header, next));
    disk.log_replayed = true;
    disk.file_write_guid_renewed = true;
    return {};
}

ErrorOr<void> open_parent(DiskImpl& disk, const OpenOptions& options, uint32_t depth) {
    int index = disk.metadata.find(format::kParentLocatorItem);
    Buffer item =
        TRY(disk.metadata.read_item(*disk.io, *disk.allocator, static_cast<uint32_t>(index)));
    disk.locator = TRY(parse_parent_locator(*disk.allocator, item.span()));
    std::string_view linkage = disk.locator.find("parent_linkage");
    Guid linkage_guid;
    if (!Guid::parse(linkage.data(), linkage.size(), linkage_guid))
        return Error(ErrorCode::corrupt, "parent locator: parent_linkage is missing or not a GUID");
    if (options.parent_resolver == nullptr)
        return Error(ErrorCode::invalid_argument,
                     "differencing disk: no parent resolver given to find the parent");
    if (depth >= kMaxParentDepth)
        return Error(ErrorCode::corrupt,
                     "differencing disk: parent chain deeper than 64 (a cycle?)");
    std::string_view relative = disk.locator.find("relative_path");
    std::string_view absolute = disk.locator.find("absolute_win32_path");
    disk.parent_io = TRY(options.parent_resolver->open_parent(*disk.io, relative, absolute));
    disk.resolver = options.parent_resolver;
    OpenOptions parent_options{};
    parent_options.read_only = true;
    parent_options.allow_replay = false;
    parent_options.ignore_parent_linkage = options.ignore_parent_linkage;
    parent_options.parent_resolver = options.parent_resolver;
    disk.parent = TRY(DiskImpl::open(*disk.parent_io, *disk.allocator, parent_options, depth + 1));
    const DiskImpl& parent = disk.parent->impl();
    if (parent.parameters.virtual_size != disk.parameters.virtual_size)
        return Error(ErrorCode::corrupt, "differencing disk: parent has a different virtual size");
    if (parent.parameters.logical_sector_size != disk.parameters.logical_sector_size)
        return Error(ErrorCode::corrupt,
                     "differencing disk: parent has a different logical sector size");
    if (!options.ignore_parent_linkage) {
        const Guid& actual = parent.header.header.data_write_guid;
        std::string_view linkage2 = disk.locator.find("parent_linkage2");
        Guid linkage2_guid{};
        bool has2 =
            !linkage2.empty() && Guid::parse(linkage2.data(), linkage2.size(), linkage2_guid);
        if (!(actual == linkage_guid) && !(has2 && actual == linkage2_guid))
            return Error(ErrorCode::corrupt,
                         "differencing disk: parent's DataWriteGuid does not match "
                         "parent_linkage (the parent was modified after the child was made)");
    }
    return {};
}

ErrorOr<void> load(DiskImpl& disk, const OpenOptions& options, uint32_t depth) {
    BlockIo& io = *disk.io;
    TRY(check_file_identifier(io));
    disk.header = TRY(read_current_header(io, *disk.allocator));
    if (!options.read_only && io.read_only())
        return Error(ErrorCode::permission, "vhdx: the file is read-only; open it read-only");
    TRY(replay_if_dirty(disk, options));
    disk.file_size = TRY(io.size());
    disk.regions = TRY(read_regions(io, *disk.allocator));
    const format::Header& h = disk.header.header;
    uint64_t log_end = h.log_offset + h.log_length;
    auto overlaps = [&](uint64_t start, uint64_t length) {
        return start < log_end && h.log_offset < start + length;
    };
    if (overlaps(disk.regions.bat_offset, disk.regions.bat_length) ||
        overlaps(disk.regions.metadata_offset, disk.regions.metadata_length))
        return Error(ErrorCode::corrupt, "header: log overlaps the BAT or metadata region");
    if (log_end > disk.file_size)
        return Error(ErrorCode::corrupt, "header: log lies past the end of the file");
    disk.metadata = TRY(MetadataTable::load(io, *disk.allocator, disk.regions.metadata_offset,
                                            disk.regions.metadata_length));
    disk.parameters = TRY(disk.metadata.read_parameters(io));
    const DiskParameters& p = disk.parameters;
    BatGeometry geometry =
        BatGeometry::compute(p.virtual_size, p.block_size, p.logical_sector_size, p.has_parent);
    disk.bat = TRY(
        Bat::load(io, *disk.allocator, geometry, disk.regions.bat_offset, disk.regions.bat_length));
    ReservedAreas reserved{{h.log_offset, disk.regions.metadata_offset, disk.regions.bat_offset},
                           {h.log_length, disk.regions.metadata_length, disk.regions.bat_length}};
    TRY(disk.bat.validate(disk.file_size, reserved));
    disk.log.init(h.log_offset, h.log_length);
    disk.read_only = options.read_only;
    disk.random = options.random;
    if (!disk.read_only && disk.random == nullptr)
        return Error(ErrorCode::invalid_argument, "vhdx: a writable open needs a RandomSource");
    if (p.has_parent)
        TRY(open_parent(disk, options, depth));
    return {};
}

} // namespace

ErrorOr<Disk*> DiskImpl::open(BlockIo& io, Allocator& allocator, const OpenOptions& options,
                              uint32_t depth) {
    DiskImpl* disk = TRY(new_impl(allocator));
    disk->io = &io;
    disk->allocator = &allocator;
    auto loaded = load(*disk, options, depth);
    if (loaded.is_error()) {
        disk->destroy();
        return loaded.release_error();
    }
    return &disk->facade;
}

void DiskImpl::destroy() {
    if (parent != nullptr)
        parent->abandon();
    if (parent_io != nullptr && resolver != nullptr)
        resolver->close_parent(parent_io);
    Allocator* owner = allocator;
    this->~DiskImpl();
    owner->deallocate(this, sizeof(DiskImpl), alignof(DiskImpl));
}

ErrorOr<void> DiskImpl::prepare_change(bool guest_visible, bool needs_log) {
    if (read_only)
        return Error(ErrorCode::permission, "vhdx: the disk is open read-only");
    bool renew_file = !file_write_guid_renewed;
    bool renew_data = guest_visible && !data_write_guid_renewed;
    bool start_log = needs_log && !log.active();
    if (!renew_file && !renew_data && !start_log)
        return {};
    format::Header next = header.header;
    if (renew_file)
        next.file_write_guid = Guid::random(*random);
    if (renew_data)
        next.data_write_guid = Guid::random(*random);
    if (start_log)
        next.log_guid = Guid::random(*random);
    TRY(update_header(*io, header, next));
    file_write_guid_renewed = true;
    data_write_guid_renewed = data_write_guid_renewed || renew_data;
    if (start_log)
        log.start(next.log_guid);
    return {};
}

ErrorOr<void> DiskImpl::commit(std::span<const LogUpdate> updates) {
    TRY(prepare_change(false, true));
    return log.commit(*io, *allocator, updates, file_size);
}

ErrorOr<uint64_t> DiskImpl::allocate_space(uint64_t bytes) {
    uint64_t offset = (file_size + kMiB - 1) / kMiB * kMiB;
    TRY(io->set_size(offset + bytes));
    file_size = offset + bytes;
    return offset;
}

ErrorOr<void> DiskImpl::check_range(uint64_t offset, uint64_t length) const {
    uint32_t sector = parameters.logical_sector_size;
    if (offset % sector != 0 || length % sector != 0)
        return Error(ErrorCode::invalid_argument,
                     "vhdx: I/O not aligned to the logical sector size");
    if (offset > parameters.virtual_size || length > parameters.virtual_size - offset)
        return Error(ErrorCode::out_of_range, "vhdx: I/O past the end of the virtual disk");
    return {};
}

// --- Disk facade ---

ErrorOr<Disk*> Disk::open(BlockIo& io, Allocator& allocator, const OpenOptions& options) {
    return DiskImpl::open(io, allocator, options, 0);
}

ErrorOr<void> Disk::read(uint64_t offset, std::span<uint8_t> buffer) {
    return impl_->read(offset, buffer);
}

ErrorOr<void> Disk::write(uint64_t offset, std::span<const uint8_t> data) {
    return impl_->write(offset, data);
}

ErrorOr<void> Disk::flush() {
    if (impl_->read_only)
        return {};
    return impl_->io->flush();
}

ErrorOr<void> Disk::trim(uint64_t offset, uint64_t length) {
    return impl_->trim(offset, length);
}

Disk* Disk::parent() const {
    return impl_->parent;
}

ErrorOr<BlockState> Disk::block_state(uint64_t block, uint64_t* file_offset) const {
    if (block >= impl_->bat.geometry().payload_blocks)
        return Error(ErrorCode::out_of_range, "vhdx: block index past the end of the disk");
    BatEntry entry = impl_->bat.payload(block);
    if (file_offset != nullptr)
        *file_offset = entry.file_offset;
    return static_cast<BlockState>(entry.state);
}

DiskInfo Disk::info() const {
    const DiskImpl& d = *impl_;
    const DiskParameters& p = d.parameters;
    const BatGeometry& g = d.bat.geometry();
    DiskInfo info{};
    info.type = p.has_parent               ? DiskType::differencing
                : p.leave_blocks_allocated ? DiskType::fixed
                                           : DiskType::dynamic;
    info.virtual_size = p.virtual_size;
    info.block_size = p.block_size;
    info.logical_sector_size = p.logical_sector_size;
    info.physical_sector_size = p.physical_sector_size;
    info.leave_blocks_allocated = p.leave_blocks_allocated;
    info.has_parent = p.has_parent;
    info.chunk_ratio = static_cast<uint32_t>(g.chunk_ratio);
    info.payload_blocks = g.payload_blocks;
    info.bat_offset = d.regions.bat_offset;
    info.bat_length = d.regions.bat_length;
    info.metadata_offset = d.regions.metadata_offset;
    info.metadata_length = d.regions.metadata_length;
    info.log_offset = d.header.header.log_offset;
    info.log_length = d.header.header.log_length;
    info.header_sequence_number = d.header.header.sequence_number;
    info.disk_id = p.disk_id;
    info.file_write_guid = d.header.header.file_write_guid;
    info.data_write_guid = d.header.header.data_write_guid;
    info.log_guid = d.header.header.log_guid;
    info.log_replayed = d.log_replayed;
    info.file_size = d.file_size;
    info.parent_locator = d.locator.entries;
    info.metadata_item_count = d.metadata.count();
    info.blocks = d.bat.count_states();
    return info;
}

uint32_t Disk::metadata_item_count() const {
    return impl_->metadata.count();
}

MetadataItemInfo Disk::metadata_item(uint32_t index) const {
    const format::MetadataTableEntry& e = impl_->metadata.entry(index);
    return {e.item_id,
            e.offset,
            e.length,
            (e.flags & format::kMetadataIsUser) != 0,
            (e.flags & format::kMetadataIsVirtualDisk) != 0,
            (e.flags & format::kMetadataIsRequired) != 0};
}

ErrorOr<uint32_t> Disk::read_metadata(const Guid& id, std::span<uint8_t> out) const {
    int index = impl_->metadata.find(id);
    if (index < 0)
        return Error(ErrorCode::not_found, "metadata: no such item");
    const format::MetadataTableEntry& e = impl_->metadata.entry(static_cast<uint32_t>(index));
    uint32_t copy = out.size() < e.length ? static_cast<uint32_t>(out.size()) : e.length;
    if (copy != 0)
        TRY(impl_->io->read(impl_->metadata.region_offset() + e.offset, out.subspan(0, copy)));
    return e.length;
}

ErrorOr<void> Disk::write_metadata(const Guid& id, std::span<const uint8_t> data,
                                   bool is_virtual_disk) {
    DiskImpl& d = *impl_;
    if (data.empty())
        return Error(ErrorCode::invalid_argument, "metadata: user item must be 1 byte to 1 MiB");
    TRY(d.prepare_change(is_virtual_disk, true));
    Buffer scratch;
    LogUpdate updates[2];
    uint32_t count = TRY(d.metadata.stage_user_item(*d.io, *d.allocator, id, data.data(),
                                                    static_cast<uint32_t>(data.size()),
                                                    is_virtual_disk, scratch, updates));
    TRY(d.commit({updates, count}));
    d.metadata.commit_staged(scratch);
    return {};
}

ErrorOr<void> Disk::remove_metadata(const Guid& id) {
    DiskImpl& d = *impl_;
    if (d.read_only)
        return Error(ErrorCode::permission, "vhdx: the disk is open read-only");
    Buffer scratch;
    LogUpdate updates[2];
    uint32_t count = TRY(
        d.metadata.stage_user_item(*d.io, *d.allocator, id, nullptr, 0, false, scratch, updates));
    TRY(d.commit({updates, count}));
    d.metadata.commit_staged(scratch);
    return {};
}

ErrorOr<void> Disk::close() {
    DiskImpl& d = *impl_;
    ErrorOr<void> result;
    if (!d.read_only) {
        auto flushed = d.io->flush();
        if (flushed.is_error()) {
            d.destroy();
            return flushed.release_error();
        }
        // Every log entry was applied and flushed when it was committed, so the log can be
        // declared empty now.
        if (!d.header.header.log_guid.is_zero()) {
            format::Header next = d.header.header;
            next.log_guid = Guid{};
            auto updated = update_header(*d.io, d.header, next);
            if (updated.is_error()) {
                d.destroy();
                return updated.release_error();
            }
        }
    }
    d.destroy();
    return {};
}

void Disk::abandon() {
    impl_->destroy();
}

} // namespace halcyon::vhdx
