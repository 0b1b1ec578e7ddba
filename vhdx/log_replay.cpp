#include "vhdx/log_replay.hpp"

#include "vhdx/buffer.hpp"
#include "vhdx/crc32c.hpp"
#include "vhdx/format.hpp"

#include <string.h>

namespace halcyon::vhdx {
namespace {

constexpr uint32_t kSector = format::kLogSectorSize;
// Files larger than this are not plausible targets (and keep offset arithmetic overflow-free).
constexpr uint64_t kMaxTargetOffset = 1ull << 52;

struct EntryInfo {
    bool valid;
    uint32_t length;
    uint32_t tail;
    uint64_t sequence;
};

// The log, read once, viewed circularly.
struct LogImage {
    Buffer bytes;
    Buffer scratch; // a linear copy of an entry that wraps around the end
    uint32_t length;
    uint64_t log_offset;

    // A contiguous view of `size` bytes starting at log offset `at`.
    std::span<const uint8_t> view(uint32_t at, uint32_t size) {
        if (at + uint64_t(size) <= length)
            return bytes.span().subspan(at, size);
        uint32_t first = length - at;
        memcpy(scratch.data(), bytes.data() + at, first);
        memcpy(scratch.data() + first, bytes.data(), size - first);
        return scratch.span().subspan(0, size);
    }
};

// Fully validates the entry at log offset `at`.
EntryInfo examine(LogImage& log, uint32_t at, const Guid& guid, uint64_t log_offset) {
    EntryInfo info{};
    format::LogEntryHeader header;
    memcpy(&header, log.view(at, sizeof header).data(), sizeof header);
    if (header.signature != format::kLogEntrySignature || header.entry_length == 0 ||
        header.entry_length % kSector != 0 || header.entry_length > log.length ||
        !(header.log_guid == guid) || header.tail % kSector != 0 || header.tail >= log.length)
        return info;
    uint64_t descriptor_bytes =
        sizeof header + uint64_t(header.descriptor_count) * sizeof(format::LogDescriptor);
    uint64_t header_sectors = (descriptor_bytes + kSector - 1) / kSector;
    if (header_sectors * kSector > header.entry_length)
        return info;
    auto entry = log.view(at, header.entry_length);
    if (crc32c_with_zero_field(entry, offsetof(format::LogEntryHeader, checksum)) !=
        header.checksum)
        return info;
    uint64_t data_sectors = 0;
    for (uint32_t i = 0; i < header.descriptor_count; ++i) {
        format::LogDescriptor d;
        memcpy(&d, entry.data() + sizeof header + i * sizeof d, sizeof d);
        if (d.sequence_number != header.sequence_number || d.file_offset % kSector != 0 ||
            d.file_offset >= kMaxTargetOffset)
            return info;
        uint64_t length = kSector;
        if (d.signature == format::kZeroDescriptorSignature) {
            length = d.leading_bytes;
            if (length == 0 || length % kSector != 0 || length >= kMaxTargetOffset)
                return info;
        } else if (d.signature == format::kDataDescriptorSignature) {
            uint64_t sector_at = (header_sectors + data_sectors++) * kSector;
            if (sector_at + kSector > header.entry_length)
                return info;
            format::LogDataSector sector;
            memcpy(&sector, entry.data() + sector_at, sizeof sector);
            if (sector.signature != format::kDataSectorSignature ||
                sector.sequence_high != static_cast<uint32_t>(header.sequence_number >> 32) ||
                sector.sequence_low != static_cast<uint32_t>(header.sequence_number))
                return info;
        } else {
            return info;
        }
        // An entry must never rewrite the log itself.
        if (d.file_offset < log_offset + log.length && log_offset < d.file_offset + length)
            return info;
    }
    if ((header_sectors + data_sectors) * kSector != header.entry_length)
        return info;
    return {true, header.entry_length, header.tail, header.sequence_number};
}

ErrorOr<void> apply_entry(BlockIo& io, Allocator& allocator, LogImage& log, uint32_t at) {
    format::LogEntryHeader header;
    memcpy(&header, log.view(at, sizeof header).data(), sizeof header);
    auto entry = log.view(at, header.entry_length);
    uint64_t header_sectors =
        (sizeof header + uint64_t(header.descriptor_count) * sizeof(format::LogDescriptor) +
         kSector - 1) /
        kSector;
    Buffer sector_buffer = TRY(Buffer::allocate(allocator, kSector));
    uint64_t data_index = 0;
    for (uint32_t i = 0; i < header.descriptor_count; ++i) {
        format::LogDescriptor d;
        memcpy(&d, entry.data() + sizeof header + i * sizeof d, sizeof d);
        if (d.signature == format::kZeroDescriptorSignature) {
            Buffer zeros = TRY(Buffer::allocate(
                allocator, d.leading_bytes < format::kMiB ? d.leading_bytes : format::kMiB));
            for (uint64_t done = 0; done < d.leading_bytes; done += zeros.size()) {
                uint64_t step =
                    d.leading_bytes - done < zeros.size() ? d.leading_bytes - done : zeros.size();
                TRY(io.write(d.file_offset + done, zeros.span().subspan(0, step)));
            }
            continue;
        }
        const uint8_t* sector = entry.data() + (header_sectors + data_index++) * kSector;
        uint8_t* out = sector_buffer.data();
        memcpy(out, &d.leading_bytes, 8);
        memcpy(out + 8, sector + 8, kSector - 12);
        memcpy(out + kSector - 4, &d.trailing_bytes, 4);
        TRY(io.write(d.file_offset, sector_buffer.span()));
    }
    return {};
}

} // namespace

ErrorOr<ReplayResult> replay_log(BlockIo& io, Allocator& allocator, const Guid& log_guid,
                                 uint64_t log_offset, uint32_t log_length, bool apply) {
    uint64_t file_size = TRY(io.size());
    if (log_length == 0 || log_length % kSector != 0)
        return Error(ErrorCode::corrupt, "log replay: log length is not a multiple of 4 KiB");
    if (log_offset + log_length > file_size)
        return Error(ErrorCode::corrupt, "log replay: the log lies past the end of the file");
    LogImage log;
    log.length = log_length;
    log.log_offset = log_offset;
    log.bytes = TRY(Buffer::allocate(allocator, log_length));
    log.scratch = TRY(Buffer::allocate(allocator, log_length));
    TRY(io.read(log_offset, log.bytes.span()));

    uint32_t sectors = log_length / kSector;
    Buffer info_buffer = TRY(Buffer::allocate(allocator, sectors * sizeof(EntryInfo)));
    auto* infos = info_buffer.as<EntryInfo>();
    for (uint32_t s = 0; s < sectors; ++s)
        infos[s] = examine(log, s * kSector, log_guid, log_offset);

    // Find the best run. Each run is followed from every valid start; runs are short (the log
    // is at most a few thousand sectors), so the quadratic walk is cheap.
    bool found = false;
    uint32_t best_tail = 0, best_head = 0, best_count = 0;
    uint64_t best_sequence = 0;
    for (uint32_t start = 0; start < sectors; ++start) {
        if (!infos[start].valid)
            continue;
        uint32_t position = start;
        uint64_t covered = infos[start].length;
        uint32_t count = 1;
        while (true) {
            uint32_t next = (position + infos[position].length / kSector) % sectors;
            if (!infos[next].valid || infos[next].sequence != infos[position].sequence + 1 ||
                covered + infos[next].length > log_length)
                break;
            covered += infos[next].length;
            position = next;
            count++;
        }
        // The head's tail must be one of the run's entries.
        uint32_t tail_sector = infos[position].tail / kSector;
        uint32_t walk = start;
        uint32_t entries_from_tail = 0;
        bool tail_in_run = false;
        for (uint32_t i = 0; i < count; ++i) {
            if (walk == tail_sector) {
                tail_in_run = true;
                entries_from_tail = count - i;
                break;
            }
            walk = (walk + infos[walk].length / kSector) % sectors;
        }
        if (!tail_in_run)
            continue;
        if (!found || infos[position].sequence > best_sequence) {
            found = true;
            best_sequence = infos[position].sequence;
            best_tail = tail_sector;
            best_head = position;
            best_count = entries_from_tail;
        }
    }
    if (!found)
        return ReplayResult{false, 0, 0};

    format::LogEntryHeader head;
    memcpy(&head, log.view(best_head * kSector, sizeof head).data(), sizeof head);
    if (file_size < head.flushed_file_offset)
        return Error(
            ErrorCode::corrupt,
            "log replay: file is shorter than the log's FlushedFileOffset (data was lost)");
    if (!apply)
        return ReplayResult{true, best_count, best_sequence};
    uint32_t at = best_tail;
    for (uint32_t i = 0; i < best_count; ++i) {
        TRY(apply_entry(io, allocator, log, at * kSector));
        at = (at + infos[at].length / kSector) % sectors;
    }
    uint64_t size_now = TRY(io.size());
    if (size_now < head.last_file_offset)
        TRY(io.set_size(head.last_file_offset));
    TRY(io.flush());
    return ReplayResult{true, best_count, best_sequence};
}

} // namespace halcyon::vhdx
