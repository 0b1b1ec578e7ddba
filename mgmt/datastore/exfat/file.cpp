// Open files: reads that honour ValidDataLength, growing writes, set_size, and the commit that
// orders data, allocation and the directory entry.
#include "mgmt/datastore/exfat/volume.hpp"

#include <string.h>

namespace halcyon::exfat {

using namespace layout;

ErrorOr<void> Volume::commit_node(OpenNode& node) {
    if (!node.entry_dirty)
        return {};
    // The entry we write always has ValidDataLength == DataLength: bytes never written (growth
    // by set_size, or a file another system left with ValidDataLength < DataLength that we
    // changed) are zero-filled here, at the commit rather than at the growth, so bytes the
    // caller writes before the commit (a VHDX's new block taking the guest's data) are written
    // once. The specification allows the gap, but Linux before 6.8 (Debian 12) ignores
    // DataLength beyond ValidDataLength and would show the file cut short. The zeros are
    // flushed with the data below, before the entry that covers them: a power cut can never
    // leave ValidDataLength over clusters still holding stale contents.
    if (node.valid_length < node.stream.length) {
        TRY(stream_zero(node.stream, &node.cursor, node.valid_length,
                        node.stream.length - node.valid_length));
        node.valid_length = node.stream.length;
    }
    // Data, FAT and bitmap are durable before the entry that makes them reachable.
    TRY(write_back_metadata());
    TRY(device_.flush());
    EntrySet set;
    TRY(read_entry_set(node.location.directory, node.location.index, set));
    StreamExtensionEntry& stream = set.stream_entry();
    bool contiguous = node.stream.no_fat_chain && node.stream.first_cluster != 0;
    stream.general_secondary_flags =
        static_cast<uint8_t>(kFlagAllocationPossible | (contiguous ? kFlagNoFatChain : 0));
    stream.first_cluster = node.stream.first_cluster;
    stream.data_length = node.stream.length;
    stream.valid_data_length = node.valid_length;
    if (node.modified) {
        PackedTime now = pack_time(clock_.now());
        FileEntry& file = set.file();
        file.last_modified_timestamp = file.last_accessed_timestamp = now.timestamp;
        file.last_modified_10ms_increment = now.increment_10ms;
        file.last_modified_utc_offset = file.last_accessed_utc_offset = now.utc_offset;
        file.file_attributes |= kAttributeArchive;
        node.attributes = file.file_attributes;
    }
    TRY(update_entry_set(node.location, set));
    TRY(device_.flush());
    node.entry_dirty = false;
    node.modified = false;
    return {};
}

void Volume::close_node(OpenNode& node, bool writer) {
    if (node.handles > 0)
        node.handles--;
    if (writer && node.writers > 0)
        node.writers--;
}

File& File::operator=(File&& other) {
    if (this != &other) {
        (void)close();
        volume_ = other.volume_;
        node_ = other.node_;
        writable_ = other.writable_;
        other.volume_ = nullptr;
        other.writable_ = false;
    }
    return *this;
}

File::~File() {
    (void)close();
}

uint64_t File::size() const {
    return volume_ ? volume_->nodes_.as<Volume::OpenNode>()[node_].stream.length : 0;
}

uint64_t File::valid_size() const {
    return volume_ ? volume_->nodes_.as<Volume::OpenNode>()[node_].valid_length : 0;
}

bool File::contiguous() const {
    if (!volume_)
        return false;
    const Stream& stream = volume_->nodes_.as<Volume::OpenNode>()[node_].stream;
    return stream.no_fat_chain && stream.first_cluster != 0;
}

ErrorOr<size_t> File::read(uint64_t offset, std::span<uint8_t> buffer) {
    if (!volume_)
        return Error(ErrorCode::invalid_argument, "exfat: file is not open");
    Volume::OpenNode& node = volume_->nodes_.as<Volume::OpenNode>()[node_];
    if (offset >= node.stream.length || buffer.empty())
        return size_t{0};
    uint64_t available = node.stream.length - offset;
    size_t n = buffer.size() < available ? buffer.size() : static_cast<size_t>(available);
    // Below ValidDataLength from disk; above it zeros, whatever the clusters hold.
    size_t valid = 0;
    if (offset < node.valid_length) {
        uint64_t left = node.valid_length - offset;
        valid = n < left ? n : static_cast<size_t>(left);
        TRY(volume_->stream_read(node.stream, &node.cursor, offset, buffer.first(valid)));
    }
    memset(buffer.data() + valid, 0, n - valid);
    return n;
}

ErrorOr<void> File::write(uint64_t offset, std::span<const uint8_t> data) {
    if (!volume_)
        return Error(ErrorCode::invalid_argument, "exfat: file is not open");
    if (!writable_)
        return Error(ErrorCode::permission, "exfat: file is open read-only");
    if (data.empty())
        return {};
    Volume::OpenNode& node = volume_->nodes_.as<Volume::OpenNode>()[node_];
    uint64_t end = offset + data.size();
    if (end < offset || end > volume_->geometry_.heap_bytes())
        return Error(ErrorCode::out_of_range, "exfat: write beyond the largest possible file");
    if (end > node.stream.length) {
        TRY(volume_->grow(node.stream, end, &node.cursor));
        node.entry_dirty = true;
    }
    // A gap before the data is zero-filled on disk now: ValidDataLength will cover it.
    if (offset > node.valid_length)
        TRY(volume_->stream_zero(node.stream, &node.cursor, node.valid_length,
                                 offset - node.valid_length));
    TRY(volume_->stream_write(node.stream, &node.cursor, offset, data));
    if (end > node.valid_length)
        node.valid_length = end;
    node.modified = true;
    node.entry_dirty = true;
    return {};
}

ErrorOr<void> File::set_size(uint64_t size) {
    if (!volume_)
        return Error(ErrorCode::invalid_argument, "exfat: file is not open");
    if (!writable_)
        return Error(ErrorCode::permission, "exfat: file is open read-only");
    Volume::OpenNode& node = volume_->nodes_.as<Volume::OpenNode>()[node_];
    if (size > volume_->geometry_.heap_bytes())
        return Error(ErrorCode::out_of_range, "exfat: size beyond the largest possible file");
    if (size == node.stream.length)
        return {};
    if (size > node.stream.length) {
        // Allocation now; the new bytes lie past ValidDataLength and read as zero until the
        // commit zero-fills them on disk (commit_node).
        TRY(volume_->grow(node.stream, size, &node.cursor));
        node.entry_dirty = true;
        node.modified = true;
        return {};
    }
    // Shrinking: the entry stops referencing the tail (durably) before the tail is freed.
    Stream old = node.stream;
    node.stream.length = size;
    if (size == 0)
        node.stream = Stream{};
    if (node.valid_length > size)
        node.valid_length = size;
    node.entry_dirty = true;
    node.modified = true;
    TRY(volume_->commit_node(node));
    TRY(volume_->shrink(old, size, &node.cursor));
    return {};
}

ErrorOr<uint64_t> File::zero_fill(uint64_t max_bytes) {
    if (!volume_)
        return Error(ErrorCode::invalid_argument, "exfat: file is not open");
    if (!writable_)
        return Error(ErrorCode::permission, "exfat: file is open read-only");
    Volume::OpenNode& node = volume_->nodes_.as<Volume::OpenNode>()[node_];
    uint64_t gap = node.stream.length - node.valid_length;
    if (gap == 0)
        return uint64_t{0};
    // End the slice on a cluster boundary (unless it ends the file), so the next one starts
    // without a partial sector to read back.
    uint64_t cluster_mask = volume_->geometry_.cluster_size() - 1;
    uint64_t end = node.valid_length + (max_bytes < gap ? max_bytes : gap);
    if (end < node.stream.length) {
        end &= ~cluster_mask;
        if (end <= node.valid_length) // less than a cluster asked: one cluster's remainder
            end = (node.valid_length | cluster_mask) + 1;
        if (end > node.stream.length)
            end = node.stream.length;
    }
    TRY(volume_->stream_zero(node.stream, &node.cursor, node.valid_length,
                             end - node.valid_length));
    // In memory only: the entry that records it is written by the next commit, after the
    // zeros are durable.
    node.valid_length = end;
    node.entry_dirty = true;
    return node.stream.length - end;
}

ErrorOr<void> File::flush() {
    if (!volume_)
        return Error(ErrorCode::invalid_argument, "exfat: file is not open");
    Volume::OpenNode& node = volume_->nodes_.as<Volume::OpenNode>()[node_];
    if (node.entry_dirty)
        return volume_->commit_node(node);
    return volume_->device_.flush();
}

ErrorOr<void> File::close() {
    if (!volume_)
        return {};
    Volume::OpenNode& node = volume_->nodes_.as<Volume::OpenNode>()[node_];
    ErrorOr<void> result =
        writable_ && node.entry_dirty ? volume_->commit_node(node) : ErrorOr<void>{};
    volume_->close_node(node, writable_);
    volume_ = nullptr;
    writable_ = false;
    return result;
}

} // namespace halcyon::exfat
