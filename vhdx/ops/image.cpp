// Allocation queries over a VHDX chain, used to skip ranges that read as zeros.
#include "vhdx/ops/image.hpp"

#include <string.h>

namespace halcyon::vhdx::ops {

ErrorOr<void> RawSource::read(uint64_t offset, std::span<uint8_t> buffer) {
    if (offset > size_ || buffer.size() > size_ - offset)
        return Error(ErrorCode::out_of_range, "raw image: read past the end");
    uint64_t stored = offset >= file_size_ ? 0 : file_size_ - offset;
    if (stored > buffer.size())
        stored = buffer.size();
    if (stored > 0)
        TRY(io_.read(offset, buffer.subspan(0, stored)));
    memset(buffer.data() + stored, 0, buffer.size() - stored);
    return {};
}

ErrorOr<bool> VhdxSource::may_have_data(uint64_t offset, uint64_t length) {
    return chain_may_have_data(disk_, offset, length);
}

ErrorOr<bool> chain_may_have_data(Disk& disk, uint64_t offset, uint64_t length) {
    if (length == 0)
        return false;
    DiskInfo info = disk.info();
    uint64_t block_size = info.block_size;
    uint64_t end = offset + length;
    for (uint64_t block = offset / block_size; block * block_size < end; ++block) {
        uint64_t file_offset = 0;
        BlockState state = TRY(disk.block_state(block, &file_offset));
        switch (state) {
        case BlockState::fully_present:
        case BlockState::partially_present:
            return true;
        case BlockState::not_present:
            // Only a differencing disk shows its parent through an unallocated block.
            if (disk.parent() != nullptr) {
                uint64_t first = block * block_size > offset ? block * block_size : offset;
                uint64_t last = (block + 1) * block_size < end ? (block + 1) * block_size : end;
                if (TRY(chain_may_have_data(*disk.parent(), first, last - first)))
                    return true;
            }
            break;
        case BlockState::undefined:
        case BlockState::zero:
        case BlockState::unmapped:
            break; // reads as zeros and hides the parent
        }
    }
    return false;
}

bool is_all_zero(std::span<const uint8_t> bytes) {
    // Word-at-a-time: this runs over every byte a conversion copies.
    size_t i = 0;
    for (; i + 8 <= bytes.size(); i += 8) {
        uint64_t word;
        memcpy(&word, bytes.data() + i, 8);
        if (word != 0)
            return false;
    }
    for (; i < bytes.size(); ++i)
        if (bytes[i] != 0)
            return false;
    return true;
}

} // namespace halcyon::vhdx::ops
