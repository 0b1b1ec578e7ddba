#include "vmm/worker/storage/extent_file.hpp"

#include <string.h>

namespace halcyon::worker::storage {
namespace {

size_t extents_for(uint64_t bytes) {
    return static_cast<size_t>((bytes + kExtentBytes - 1) / kExtentBytes);
}

} // namespace

ExtentFile::ExtentFile(ExtentSource& source, std::span<uint8_t*> table, bool read_only)
    : source_(source), table_(table), read_only_(read_only) {}

ExtentFile::~ExtentFile() {
    shrink_to(0);
}

template <typename Visit>
void ExtentFile::for_each_piece(uint64_t offset, size_t length, Visit visit) {
    size_t done = 0;
    while (done < length) {
        const uint64_t position = offset + done;
        const uint64_t within = position % kExtentBytes;
        const size_t piece = static_cast<size_t>(
            kExtentBytes - within < length - done ? kExtentBytes - within : length - done);
        visit(table_[position / kExtentBytes] + within, done, piece);
        done += piece;
    }
}

ErrorOr<void> ExtentFile::load(std::span<const uint8_t> contents) {
    if (extents_ != 0)
        return Error(ErrorCode::invalid_argument, "extent file: already has contents");
    if (contents.size() > max_size())
        return Error(ErrorCode::out_of_range, "extent file: the image exceeds the disk size limit");
    TRY(grow_to(extents_for(contents.size())));
    size_ = contents.size();
    for_each_piece(0, contents.size(), [&](uint8_t* target, size_t done, size_t piece) {
        memcpy(target, contents.data() + done, piece);
    });
    return {};
}

ErrorOr<void> ExtentFile::read(uint64_t offset, std::span<uint8_t> buffer) {
    if (offset > size_ || buffer.size() > size_ - offset)
        return Error(ErrorCode::io, "extent file: read past the end");
    for_each_piece(offset, buffer.size(), [&](uint8_t* source, size_t done, size_t piece) {
        memcpy(buffer.data() + done, source, piece);
    });
    return {};
}

ErrorOr<void> ExtentFile::write(uint64_t offset, std::span<const uint8_t> data) {
    if (read_only_)
        return Error(ErrorCode::permission, "extent file: read-only");
    if (offset > max_size() || data.size() > max_size() - offset)
        return Error(ErrorCode::out_of_memory, "extent file: the disk size limit is reached");
    const uint64_t end = offset + data.size();
    if (end > size_) {
        TRY(grow_to(extents_for(end)));
        size_ = end; // bytes between the old end and offset are zero (zero_tail, fresh extents)
    }
    for_each_piece(offset, data.size(), [&](uint8_t* target, size_t done, size_t piece) {
        memcpy(target, data.data() + done, piece);
    });
    return {};
}

ErrorOr<void> ExtentFile::set_size(uint64_t size) {
    if (read_only_)
        return Error(ErrorCode::permission, "extent file: read-only");
    if (size > max_size())
        return Error(ErrorCode::out_of_memory, "extent file: the disk size limit is reached");
    if (size > size_) {
        TRY(grow_to(extents_for(size)));
    } else {
        zero_tail(size);
        shrink_to(extents_for(size));
    }
    size_ = size;
    return {};
}

ErrorOr<void> ExtentFile::grow_to(size_t count) {
    const size_t before = extents_;
    while (extents_ < count) {
        uint8_t* extent = source_.allocate_extent();
        if (extent == nullptr) {
            shrink_to(before);
            return Error(ErrorCode::out_of_memory, "extent file: no memory for the disk to grow");
        }
        table_[extents_++] = extent;
    }
    return {};
}

void ExtentFile::shrink_to(size_t count) {
    while (extents_ > count) {
        source_.free_extent(table_[--extents_]);
        table_[extents_] = nullptr;
    }
}

void ExtentFile::zero_tail(uint64_t from) {
    if (from >= static_cast<uint64_t>(extents_) * kExtentBytes)
        return;
    const uint64_t end = (from / kExtentBytes + 1) * kExtentBytes;
    for_each_piece(from, static_cast<size_t>(end - from),
                   [](uint8_t* target, size_t, size_t piece) { memset(target, 0, piece); });
}

} // namespace halcyon::worker::storage
