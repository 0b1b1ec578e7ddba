#include "vhdx/log_writer.hpp"

#include "vhdx/buffer.hpp"
#include "vhdx/crc32c.hpp"
#include "vhdx/format.hpp"

#include <string.h>

namespace halcyon::vhdx {
namespace {

constexpr uint32_t kSector = format::kLogSectorSize;
constexpr size_t kMaxPieces = 256;

uint32_t descriptor_sectors(size_t descriptors) {
    return static_cast<uint32_t>((sizeof(format::LogEntryHeader) +
                                  descriptors * sizeof(format::LogDescriptor) + kSector - 1) /
                                 kSector);
}

// Writes the whole zero range through a small zero buffer.
ErrorOr<void> write_zeros(BlockIo& io, Allocator& allocator, uint64_t offset, uint64_t length) {
    Buffer zeros = TRY(Buffer::allocate(allocator, length < format::kMiB ? length : format::kMiB));
    while (length > 0) {
        uint64_t step = length < zeros.size() ? length : zeros.size();
        TRY(io.write(offset, zeros.span().subspan(0, step)));
        offset += step;
        length -= step;
    }
    return {};
}

} // namespace

ErrorOr<void> LogWriter::commit(BlockIo& io, Allocator& allocator,
                                std::span<const LogUpdate> updates, uint64_t file_size) {
    if (!active_)
        return Error(ErrorCode::invalid_argument, "log: commit before the log was started");
    // An entry may use at most half the log (see the header comment).
    uint32_t max_sectors = log_length_ / 2 / kSector;
    Piece pieces[kMaxPieces];
    size_t count = 0;
    uint32_t data_sectors = 0;
    auto flush_pieces = [&]() -> ErrorOr<void> {
        if (count == 0)
            return {};
        TRY(write_entry(io, allocator, {pieces, count}, file_size));
        count = 0;
        data_sectors = 0;
        return {};
    };
    auto fits = [&](uint32_t extra_data) {
        return count < kMaxPieces &&
               descriptor_sectors(count + 1) + data_sectors + extra_data <= max_sectors;
    };
    for (const LogUpdate& update : updates) {
        if (update.file_offset % kSector != 0 || update.length % kSector != 0)
            return Error(ErrorCode::invalid_argument, "log: update not 4 KiB aligned");
        if (update.data == nullptr) {
            if (!fits(0))
                TRY(flush_pieces());
            pieces[count++] = {update.file_offset, update.length, nullptr};
            continue;
        }
        for (uint64_t done = 0; done < update.length; done += kSector) {
            if (!fits(1))
                TRY(flush_pieces());
            pieces[count++] = {update.file_offset + done, kSector, update.data + done};
            data_sectors++;
        }
    }
    return flush_pieces();
}

ErrorOr<void> LogWriter::write_entry(BlockIo& io, Allocator& allocator,
                                     std::span<const Piece> pieces, uint64_t file_size) {
    uint32_t header_sectors = descriptor_sectors(pieces.size());
    uint32_t data_sectors = 0;
    for (const Piece& piece : pieces)
        data_sectors += piece.data != nullptr;
    uint32_t entry_length = (header_sectors + data_sectors) * kSector;
    Buffer entry = TRY(Buffer::allocate(allocator, entry_length));

    auto* header = entry.as<format::LogEntryHeader>();
    header->signature = format::kLogEntrySignature;
    header->entry_length = entry_length;
    header->tail = head_; // everything before this entry is applied and flushed
    header->sequence_number = sequence_;
    header->descriptor_count = static_cast<uint32_t>(pieces.size());
    header->log_guid = guid_;
    header->flushed_file_offset = file_size;
    header->last_file_offset = file_size;
    auto* descriptors = entry.as<format::LogDescriptor>(sizeof(format::LogEntryHeader));
    uint32_t data_index = 0;
    for (size_t i = 0; i < pieces.size(); ++i) {
        const Piece& piece = pieces[i];
        format::LogDescriptor& d = descriptors[i];
        d.file_offset = piece.file_offset;
        d.sequence_number = sequence_;
        if (piece.data == nullptr) {
            d.signature = format::kZeroDescriptorSignature;
            d.leading_bytes = piece.length; // ZeroLength
            continue;
        }
        // The data sector keeps bytes 8..4091 of the sector; its first 8 and last 4 bytes
        // travel in the descriptor, so the sector's own signature and split sequence number
        // can sit there.
        d.signature = format::kDataDescriptorSignature;
        memcpy(&d.leading_bytes, piece.data, 8);
        memcpy(&d.trailing_bytes, piece.data + kSector - 4, 4);
        auto* sector =
            entry.as<format::LogDataSector>((header_sectors + data_index++) * size_t(kSector));
        sector->signature = format::kDataSectorSignature;
        sector->sequence_high = static_cast<uint32_t>(sequence_ >> 32);
        sector->sequence_low = static_cast<uint32_t>(sequence_);
        memcpy(sector->data, piece.data + 8, sizeof sector->data);
    }
    header->checksum =
        crc32c_with_zero_field(entry.span(), offsetof(format::LogEntryHeader, checksum));

    // The log is circular: an entry that runs past the end continues at the start.
    uint32_t first = entry_length;
    if (head_ + entry_length > log_length_)
        first = log_length_ - head_;
    TRY(io.write(log_offset_ + head_, entry.span().subspan(0, first)));
    if (first < entry_length)
        TRY(io.write(log_offset_, entry.span().subspan(first)));
    TRY(io.flush());

    for (const Piece& piece : pieces) {
        if (piece.data == nullptr)
            TRY(write_zeros(io, allocator, piece.file_offset, piece.length));
        else
            TRY(io.write(piece.file_offset, {piece.data, kSector}));
    }
    TRY(io.flush());
    head_ = (head_ + entry_length) % log_length_;
    sequence_++;
    return {};
}

} // namespace halcyon::vhdx
