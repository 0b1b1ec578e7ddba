#include "mgmt/datastore/exfat/file_block_io.hpp"

namespace halcyon::exfat {

ErrorOr<void> FileBlockIo::read(uint64_t offset, std::span<uint8_t> buffer) {
    // BlockIo reads are exact: a short read (past the end) is an error, not a partial result.
    if (offset > file_.size() || buffer.size() > file_.size() - offset)
        return Error(ErrorCode::io, "exfat: read past the end of the file");
    size_t n = TRY(file_.read(offset, buffer));
    if (n != buffer.size())
        return Error(ErrorCode::io, "exfat: short read");
    return {};
}

ErrorOr<void> FileBlockIo::write(uint64_t offset, std::span<const uint8_t> data) {
    // File::write grows the file, and bytes between the old end and offset read as zero, as
    // BlockIo promises.
    return file_.write(offset, data);
}

} // namespace halcyon::exfat
