#include "vhdx/header.hpp"

#include "vhdx/buffer.hpp"
#include "vhdx/crc32c.hpp"

#include <string.h>

namespace halcyon::vhdx {
namespace {

uint32_t header_checksum(const format::Header& header) {
    return crc32c_with_zero_field({reinterpret_cast<const uint8_t*>(&header), sizeof header},
                                  offsetof(format::Header, checksum));
}

ErrorOr<void> write_slot(BlockIo& io, int slot, format::Header& header) {
    header.signature = format::kHeaderSignature;
    header.checksum = 0;
    header.checksum = header_checksum(header);
    TRY(io.write(format::kHeaderOffset[slot],
                 {reinterpret_cast<const uint8_t*>(&header), sizeof header}));
    return io.flush();
}

} // namespace

ErrorOr<void> check_file_identifier(BlockIo& io) {
    uint64_t signature = 0;
    TRY(io.read(format::kFileIdentifierOffset, {reinterpret_cast<uint8_t*>(&signature), 8}));
    if (signature != format::kFileSignature)
        return Error(ErrorCode::corrupt,
                     "not a VHDX file: file type identifier is not \"vhdxfile\"");
    return {};
}

ErrorOr<void> write_file_identifier(BlockIo& io) {
    format::FileIdentifier identifier{};
    identifier.signature = format::kFileSignature;
    const char* creator = "Halcyon vhdx";
    for (size_t i = 0; creator[i] != '\0'; ++i)
        identifier.creator[i] = static_cast<uint16_t>(creator[i]);
    return io.write(format::kFileIdentifierOffset,
                    {reinterpret_cast<const uint8_t*>(&identifier), sizeof identifier});
}

ErrorOr<void> validate_header(const format::Header& header, uint64_t file_size) {
    if (header.signature != format::kHeaderSignature)
        return Error(ErrorCode::corrupt, "bad signature");
    if (header.checksum != header_checksum(header))
        return Error(ErrorCode::corrupt, "bad CRC-32C");
    if (header.version != 1)
        return Error(ErrorCode::not_supported, "unsupported version (not 1)");
    if (header.log_version != 0)
        return Error(ErrorCode::not_supported, "unsupported log version (not 0)");
    if (header.log_length == 0 || header.log_length % format::kMiB != 0 ||
        header.log_offset % format::kMiB != 0 || header.log_offset < format::kHeaderSectionSize)
        return Error(ErrorCode::corrupt, "log offset or length not a non-zero multiple of 1 MiB");
    (void)file_size; // the log may lie past EOF only when empty; checked when it is replayed
    return {};
}

ErrorOr<CurrentHeader> read_current_header(BlockIo& io, Allocator& allocator) {
    Buffer buffer = TRY(Buffer::allocate(allocator, 2 * sizeof(format::Header)));
    uint64_t file_size = TRY(io.size());
    auto* headers = buffer.as<format::Header>();
    bool valid[2];
    Error errors[2] = {Error(ErrorCode::corrupt, ""), Error(ErrorCode::corrupt, "")};
    for (int slot = 0; slot < 2; ++slot) {
        if (file_size < format::kHeaderOffset[slot] + format::kHeaderSize) {
            valid[slot] = false;
            errors[slot] = Error(ErrorCode::corrupt, "truncated");
            continue;
        }
        TRY(io.read(format::kHeaderOffset[slot],
                    {reinterpret_cast<uint8_t*>(&headers[slot]), sizeof(format::Header)}));
        auto result = validate_header(headers[slot], file_size);
        valid[slot] = !result.is_error();
        if (result.is_error())
            errors[slot] = result.error();
    }
    if (!valid[0] && !valid[1]) {
        // Name the first header's problem: both are unusable, the first is what a user checks.
        const char* message = "no valid header: both headers are corrupt";
        if (errors[0].code() == ErrorCode::not_supported)
            return Error(ErrorCode::not_supported, "header 1: unsupported version");
        if (strcmp(errors[0].message(), "bad CRC-32C") == 0 &&
            strcmp(errors[1].message(), "bad CRC-32C") == 0)
            message = "no valid header: header 1: bad CRC-32C, header 2: bad CRC-32C";
        else if (strcmp(errors[0].message(), "bad signature") == 0 &&
                 strcmp(errors[1].message(), "bad signature") == 0)
            message = "no valid header: header 1 and header 2 lack the \"head\" signature";
        return Error(ErrorCode::corrupt, message);
    }
    CurrentHeader current;
    if (valid[0] && valid[1]) {
        // Equal sequence numbers happen in files from some tools (Disk2VHD); both are then
        // equally current, take the first.
        current.slot = headers[1].sequence_number > headers[0].sequence_number ? 1 : 0;
        current.other_valid = true;
    } else {
        current.slot = valid[0] ? 0 : 1;
        current.other_valid = false;
    }
    current.header = headers[current.slot];
    return current;
}

ErrorOr<void> update_header(BlockIo& io, CurrentHeader& current, const format::Header& next) {
    format::Header header = next;
    header.version = 1;
    header.log_version = 0;
    int first = 1 - current.slot;
    header.sequence_number = current.header.sequence_number + 1;
    TRY(write_slot(io, first, header));
    current.header = header;
    current.slot = first;
    current.other_valid = false;
    header.sequence_number += 1;
    TRY(write_slot(io, 1 - first, header));
    current.header = header;
    current.slot = 1 - first;
    current.other_valid = true;
    return {};
}

} // namespace halcyon::vhdx
