// Cluster-level machinery: FAT entries, the allocation bitmap, mapping stream offsets to
// clusters, and byte I/O inside a stream's allocation.
#include "mgmt/datastore/exfat/volume.hpp"

#include <string.h>

namespace halcyon::exfat {

using layout::kFatEndOfChain;

ErrorOr<uint32_t> Volume::fat_get(uint32_t cluster) {
    if (!geometry_.valid_cluster(cluster))
        return Error(ErrorCode::corrupt, "exfat: FAT lookup of a cluster outside the heap");
    uint64_t byte = uint64_t(cluster) * 4;
    uint64_t sector = geometry_.fat_offset + (byte >> geometry_.sector_shift);
    uint8_t* data = TRY(cache_.get(sector));
    uint32_t value;
    memcpy(&value, data + (byte & (geometry_.sector_size() - 1)), 4);
    return value;
}

ErrorOr<void> Volume::fat_set(uint32_t cluster, uint32_t value) {
    if (!geometry_.valid_cluster(cluster))
        return Error(ErrorCode::corrupt, "exfat: FAT update of a cluster outside the heap");
    uint64_t byte = uint64_t(cluster) * 4;
    uint64_t sector = geometry_.fat_offset + (byte >> geometry_.sector_shift);
    uint8_t* data = TRY(cache_.get(sector));
    memcpy(data + (byte & (geometry_.sector_size() - 1)), &value, 4);
    cache_.mark_dirty(sector);
    return {};
}

bool Volume::cluster_allocated(uint32_t cluster) const {
    uint32_t bit = cluster - layout::kFirstCluster;
    return (bitmap_.data()[bit / 8] >> (bit % 8)) & 1;
}

void Volume::set_cluster_allocated(uint32_t cluster, bool allocated) {
    uint32_t bit = cluster - layout::kFirstCluster;
    uint8_t mask = static_cast<uint8_t>(1u << (bit % 8));
    uint8_t& byte = bitmap_.data()[bit / 8];
    if (((byte & mask) != 0) == allocated)
        return;
    byte = allocated ? byte | mask : byte & ~mask;
    free_clusters_ += allocated ? -1 : 1;
    uint32_t sector = (bit / 8) >> geometry_.sector_shift;
    bitmap_dirty_.data()[sector / 8] |= static_cast<uint8_t>(1u << (sector % 8));
}

ErrorOr<void> Volume::write_bitmap() {
    uint32_t sector_size = geometry_.sector_size();
    const uint64_t* sectors = bitmap_sectors_.as<uint64_t>();
    for (uint32_t i = 0; i < bitmap_sector_count_; ++i) {
        uint8_t& dirty = bitmap_dirty_.data()[i / 8];
        if (!(dirty & (1u << (i % 8))))
            continue;
        TRY(device_.write(sectors[i], {bitmap_.data() + size_t{i} * sector_size, sector_size}));
        dirty = static_cast<uint8_t>(dirty & ~(1u << (i % 8)));
    }
    return {};
}

void Volume::record_point(ChainIndex& points, uint64_t position, uint32_t cluster) {
    // Only the next point in order is recorded: the walk that reaches it came from the
    // previous one, so the list stays a true prefix of the chain.
    if ((position & ((uint64_t(1) << points.shift) - 1)) != 0 ||
        position >> points.shift != points.count)
        return;
    if (points.count == ChainIndex::kPoints) {
        for (uint32_t i = 0; 2 * i < points.count; ++i)
            points.points[i] = points.points[2 * i];
        points.count = (points.count + 1) / 2;
        points.shift++;
        if ((position & ((uint64_t(1) << points.shift) - 1)) != 0 ||
            position >> points.shift != points.count)
            return;
    }
    points.points[points.count++] = cluster;
}

uint64_t Volume::clusters_for(uint64_t bytes) const {
    return (bytes + geometry_.cluster_size() - 1) >> geometry_.cluster_shift;
}

ErrorOr<uint32_t> Volume::cluster_at(const Stream& stream, uint64_t index, ChainCursor* cursor) {
    uint64_t total = clusters_for(stream.length);
    if (index >= total || !geometry_.valid_cluster(stream.first_cluster))
        return Error(ErrorCode::corrupt, "exfat: access past the end of an allocation");
    if (stream.no_fat_chain) {
        if (uint64_t(stream.first_cluster) + total - 1 > geometry_.cluster_count + 1ull)
            return Error(ErrorCode::corrupt, "exfat: contiguous allocation runs past the heap");
        return static_cast<uint32_t>(stream.first_cluster + index);
    }
    uint64_t position = 0;
    uint32_t cluster = stream.first_cluster;
    ChainIndex* points = cursor != nullptr ? cursor->points : nullptr;
    if (points != nullptr && points->count > 0) {
        uint64_t point = index >> points->shift;
        if (point >= points->count)
            point = points->count - 1;
        position = point << points->shift;
        cluster = points->points[point];
    }
    bool use_cursor = cursor != nullptr && cursor->cluster != 0 && cursor->index <= index &&
                      cursor->index >= position;
    // A cursor that ran past the next unrecorded point (contiguous_run moves it in strides)
    // would never record it: walk from the last point instead, once.
    if (use_cursor && points != nullptr) {
        uint64_t frontier = uint64_t(points->count) << points->shift;
        if (cursor->index > frontier && index >= frontier)
            use_cursor = false;
    }
    if (use_cursor) {
        position = cursor->index;
        cluster = cursor->cluster;
    }
    // Bounded by `total`, itself at most the heap's cluster count: a looping chain cannot
    // make this spin.
    for (;;) {
        if (points != nullptr)
            record_point(*points, position, cluster);
        if (position == index)
            break;
        uint32_t next = TRY(fat_get(cluster));
        if (next == kFatEndOfChain)
            return Error(ErrorCode::corrupt, "exfat: FAT chain ends before the data does");
        if (!geometry_.valid_cluster(next))
            return Error(ErrorCode::corrupt, "exfat: FAT chain points outside the cluster heap");
        cluster = next;
        ++position;
    }
    if (cursor != nullptr) {
        cursor->index = index;
        cursor->cluster = cluster;
    }
    return cluster;
}

ErrorOr<uint64_t> Volume::contiguous_run(const Stream& stream, uint64_t index, uint32_t cluster,
                                         uint64_t limit, ChainCursor* cursor) {
    uint64_t total = clusters_for(stream.length);
    uint64_t available = total - index < limit ? total - index : limit;
    if (stream.no_fat_chain)
        return available;
    uint64_t count = 1;
    while (count < available) {
        uint32_t next = TRY(fat_get(cluster));
        if (next != cluster + 1)
            break;
        cluster = next;
        ++count;
    }
    if (cursor != nullptr) {
        cursor->index = index + count - 1;
        cursor->cluster = cluster;
    }
    return count;
}

ErrorOr<void> Volume::device_read_bytes(uint64_t address, std::span<uint8_t> out) {
    uint32_t shift = geometry_.sector_shift;
    uint32_t sector_size = geometry_.sector_size();
    size_t done = 0;
    while (done < out.size()) {
        uint64_t at = address + done;
        uint32_t within = static_cast<uint32_t>(at & (sector_size - 1));
        size_t left = out.size() - done;
        if (within == 0 && left >= sector_size) {
            size_t whole = left & ~size_t(sector_size - 1);
            TRY(device_.read(at >> shift, out.subspan(done, whole)));
            done += whole;
            continue;
        }
        TRY(device_.read(at >> shift, sector_buf_.span()));
        size_t n = sector_size - within < left ? sector_size - within : left;
        memcpy(out.data() + done, sector_buf_.data() + within, n);
        done += n;
    }
    return {};
}

ErrorOr<void> Volume::device_write_bytes(uint64_t address, std::span<const uint8_t> data) {
    uint32_t shift = geometry_.sector_shift;
    uint32_t sector_size = geometry_.sector_size();
    cache_.invalidate(address >> shift,
                      ((address + data.size() + sector_size - 1) >> shift) - (address >> shift));
    size_t done = 0;
    while (done < data.size()) {
        uint64_t at = address + done;
        uint32_t within = static_cast<uint32_t>(at & (sector_size - 1));
        size_t left = data.size() - done;
        if (within == 0 && left >= sector_size) {
            size_t whole = left & ~size_t(sector_size - 1);
            TRY(device_.write(at >> shift, data.subspan(done, whole)));
            done += whole;
            continue;
        }
        TRY(device_.read(at >> shift, sector_buf_.span()));
        size_t n = sector_size - within < left ? sector_size - within : left;
        memcpy(sector_buf_.data() + within, data.data() + done, n);
        TRY(device_.write(at >> shift, sector_buf_.span()));
        done += n;
    }
    return {};
}

template <typename Transfer>
ErrorOr<void> Volume::stream_transfer(const Stream& stream, ChainCursor* cursor, uint64_t offset,
                                      uint64_t size, Transfer transfer) {
    if (size == 0)
        return {};
    if (offset > stream.length || size > stream.length - offset)
        return Error(ErrorCode::out_of_range, "exfat: I/O past the end of an allocation");
    uint32_t shift = geometry_.cluster_shift;
    uint64_t cluster_mask = geometry_.cluster_size() - 1;
    uint64_t done = 0;
    while (done < size) {
        uint64_t at = offset + done;
        uint64_t index = at >> shift;
        uint32_t cluster = TRY(cluster_at(stream, index, cursor));
        uint64_t within = at & cluster_mask;
        uint64_t needed = (within + (size - done) + cluster_mask) >> shift;
        uint64_t run = TRY(contiguous_run(stream, index, cluster, needed, cursor));
        uint64_t span = (run << shift) - within;
        uint64_t n = size - done < span ? size - done : span;
        uint64_t address = (geometry_.cluster_sector(cluster) << geometry_.sector_shift) + within;
        TRY(transfer(address, done, n));
        done += n;
    }
    return {};
}

ErrorOr<void> Volume::stream_read(const Stream& stream, ChainCursor* cursor, uint64_t offset,
                                  std::span<uint8_t> out) {
    return stream_transfer(stream, cursor, offset, out.size(),
                           [&](uint64_t address, uint64_t done, uint64_t n) {
                               return device_read_bytes(address, out.subspan(done, n));
                           });
}

ErrorOr<void> Volume::stream_write(const Stream& stream, ChainCursor* cursor, uint64_t offset,
                                   std::span<const uint8_t> data) {
    return stream_transfer(stream, cursor, offset, data.size(),
                           [&](uint64_t address, uint64_t done, uint64_t n) {
                               return device_write_bytes(address, data.subspan(done, n));
                           });
}

ErrorOr<void> Volume::device_zero_bytes(uint64_t address, uint64_t size) {
    uint32_t shift = geometry_.sector_shift;
    uint64_t sector_mask = geometry_.sector_size() - 1;
    // A partial first or last sector keeps its other bytes (read-modify-write of that sector
    // only); everything between goes to the device as whole sectors in one request, which it
    // may turn into a hole or a write-zeroes command.
    uint64_t head = (geometry_.sector_size() - (address & sector_mask)) & sector_mask;
    if (head > size)
        head = size;
    if (head > 0) {
        TRY(device_write_bytes(address, zeros_.span().first(static_cast<size_t>(head))));
        address += head;
        size -= head;
    }
    uint64_t whole = size >> shift;
    if (whole > 0) {
        cache_.invalidate(address >> shift, whole);
        TRY(device_.write_zeros(address >> shift, whole, zeros_.span()));
        address += whole << shift;
        size -= whole << shift;
    }
    if (size > 0)
        TRY(device_write_bytes(address, zeros_.span().first(static_cast<size_t>(size))));
    return {};
}

ErrorOr<void> Volume::stream_zero(const Stream& stream, ChainCursor* cursor, uint64_t offset,
                                  uint64_t size) {
    // One device request per physically contiguous run of clusters.
    return stream_transfer(
        stream, cursor, offset, size,
        [&](uint64_t address, uint64_t, uint64_t n) { return device_zero_bytes(address, n); });
}

} // namespace halcyon::exfat
