// Creating a new disk. Layout (like Hyper-V and qemu-img): header section (1 MiB), log, metadata
// region (1 MiB), BAT, then payload blocks. The headers are written last: until they exist the
// file is not a VHDX, so a crash during create leaves nothing that opens half-made.
#include "vhdx/disk_impl.hpp"

namespace halcyon::vhdx {
namespace {

constexpr uint32_t kMetadataRegionSize = 1 * kMiB;

ErrorOr<void> validate(const CreateOptions& o) {
    if (o.random == nullptr)
        return Error(ErrorCode::invalid_argument, "create: needs a RandomSource");
    if (o.block_size < kMinBlockSize || o.block_size > kMaxBlockSize ||
        (o.block_size & (o.block_size - 1)) != 0)
        return Error(ErrorCode::invalid_argument,
                     "create: block size must be a power of two from 1 MiB to 256 MiB");
    if (o.logical_sector_size != 512 && o.logical_sector_size != 4096)
        return Error(ErrorCode::invalid_argument,
                     "create: logical sector size must be 512 or 4096");
    if (o.physical_sector_size != 512 && o.physical_sector_size != 4096)
        return Error(ErrorCode::invalid_argument,
                     "create: physical sector size must be 512 or 4096");
    if (o.log_size < kMiB || o.log_size % kMiB != 0 || o.log_size > 1024 * kMiB)
        return Error(ErrorCode::invalid_argument,
                     "create: log size must be a multiple of 1 MiB from 1 MiB to 1 GiB");
    if (o.type == DiskType::differencing) {
        if (o.parent_resolver == nullptr)
            return Error(ErrorCode::invalid_argument, "create: differencing disk needs a parent");
        if (o.parent_relative_path.empty() && o.parent_absolute_path.empty())
            return Error(ErrorCode::invalid_argument,
                         "create: differencing disk needs a relative or absolute parent path");
        return {};
    }
    if (o.virtual_size == 0 || o.virtual_size % o.logical_sector_size != 0)
        return Error(ErrorCode::invalid_argument,
                     "create: size must be a non-zero multiple of the logical sector size");
    if (o.virtual_size > kMaxVirtualSize)
        return Error(ErrorCode::invalid_argument, "create: size exceeds the 64 TiB maximum");
    return {};
}

// Opens the parent just long enough to learn its geometry and DataWriteGuid, and builds the
// child's parent locator.
ErrorOr<Buffer> prepare_parent(BlockIo& io, Allocator& allocator, const CreateOptions& o,
                               DiskParameters& p) {
    BlockIo* parent_io =
        TRY(o.parent_resolver->open_parent(io, o.parent_relative_path, o.parent_absolute_path));
    OpenOptions options{};
    options.read_only = true;
    options.parent_resolver = o.parent_resolver;
    auto opened = Disk::open(*parent_io, allocator, options);
    if (opened.is_error()) {
        o.parent_resolver->close_parent(parent_io);
        return opened.release_error();
    }
    Disk* parent = opened.value();
    DiskInfo info = parent->info();
    parent->abandon();
    o.parent_resolver->close_parent(parent_io);
    if (o.virtual_size != 0 && o.virtual_size != info.virtual_size)
        return Error(ErrorCode::invalid_argument,
                     "create: a differencing disk must have its parent's virtual size");
    if (o.logical_sector_size != info.logical_sector_size)
        return Error(ErrorCode::invalid_argument,
                     "create: a differencing disk must have its parent's logical sector size");
    p.virtual_size = info.virtual_size;
    char linkage[39];
    info.data_write_guid.format(linkage, true);
    ParentLocatorEntry pairs[4];
    size_t count = 0;
    pairs[count++] = {"parent_linkage", std::string_view(linkage, 38)};
    if (!o.parent_relative_path.empty())
        pairs[count++] = {"relative_path", o.parent_relative_path};
    if (!o.parent_volume_path.empty())
        pairs[count++] = {"volume_path", o.parent_volume_path};
    if (!o.parent_absolute_path.empty())
        pairs[count++] = {"absolute_win32_path", o.parent_absolute_path};
    return build_parent_locator(allocator, {pairs, count});
}

ErrorOr<void> write_new_file(BlockIo& io, Allocator& allocator, const CreateOptions& o) {
    DiskParameters p{};
    p.block_size = o.block_size;
    p.leave_blocks_allocated = o.type == DiskType::fixed;
    p.has_parent = o.type == DiskType::differencing;
    p.virtual_size = o.virtual_size;
    p.disk_id = o.disk_id.is_zero() ? Guid::random(*o.random) : o.disk_id;
    p.logical_sector_size = o.logical_sector_size;
    p.physical_sector_size = o.physical_sector_size;
    Buffer locator;
    if (p.has_parent)
        locator = TRY(prepare_parent(io, allocator, o, p));
    TRY(validate_parameters(p));

    BatGeometry geometry =
        BatGeometry::compute(p.virtual_size, p.block_size, p.logical_sector_size, p.has_parent);
    Regions regions{};
    uint64_t log_offset = format::kHeaderSectionSize;
    regions.metadata_offset = log_offset + o.log_size;
    regions.metadata_length = kMetadataRegionSize;
    regions.bat_offset = regions.metadata_offset + regions.metadata_length;
    if (geometry.region_bytes() > 0xFFF00000ull)
        return Error(ErrorCode::invalid_argument, "create: BAT too large for this block size");
    regions.bat_length = static_cast<uint32_t>(geometry.region_bytes());
    uint64_t data_offset = regions.bat_offset + regions.bat_length;

    // Start from an empty file: stale bytes must not look like log entries or blocks.
    TRY(io.set_size(0));
    TRY(io.set_size(data_offset));
    TRY(write_file_identifier(io));
    TRY(write_regions(io, allocator, regions));
    MetadataTable table = TRY(MetadataTable::build_new(allocator, regions.metadata_offset,
                                                       regions.metadata_length, p, locator.span()));
    TRY(table.write_new(io, allocator, p, locator.span()));

    Bat bat = TRY(Bat::create_empty(allocator, geometry, regions.bat_offset));
    uint64_t end = data_offset;
    if (o.type == DiskType::fixed) {
        for (uint64_t block = 0; block < geometry.payload_blocks; ++block) {
            bat.set(geometry.payload_index(block), {uint8_t(BlockState::fully_present), end});
            end += p.block_size;
        }
    }
    TRY(io.write(regions.bat_offset, bat.bytes()));
    TRY(io.set_size(end));
    TRY(io.flush());

    format::Header header{};
    header.file_write_guid = Guid::random(*o.random);
    header.data_write_guid = Guid::random(*o.random);
    header.log_length = o.log_size;
    header.log_offset = log_offset;
    CurrentHeader current{};
    current.slot = 1; // so the first copy written is header 1 (sequence 1), then header 2
    return update_header(io, current, header);
}

} // namespace

ErrorOr<Disk*> Disk::create(BlockIo& io, Allocator& allocator, const CreateOptions& options) {
    TRY(validate(options));
    if (io.read_only())
        return Error(ErrorCode::permission, "create: the file is read-only");
    TRY(write_new_file(io, allocator, options));
    OpenOptions open_options{};
    open_options.read_only = false;
    open_options.parent_resolver = options.parent_resolver;
    open_options.random = options.random;
    return Disk::open(io, allocator, open_options);
}

} // namespace halcyon::vhdx
