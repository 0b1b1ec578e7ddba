// The copy loop behind every conversion: skip what the source says is unallocated, read the
// rest chunk by chunk, write only the chunks that are not all zeros.
#include "vhdx/ops/convert.hpp"

#include "vhdx/buffer.hpp"

namespace halcyon::vhdx::ops {

ErrorOr<ConvertStats> copy_image(ImageSource& source, ImageSink& sink, Allocator& allocator,
                                 const ConvertOptions& options) {
    uint32_t sector = source.sector_size();
    if (options.chunk_size == 0 || options.chunk_size % sector != 0)
        return Error(ErrorCode::invalid_argument,
                     "convert: chunk size must be a multiple of the sector size");
    if (source.size() % sector != 0)
        return Error(ErrorCode::invalid_argument,
                     "convert: source size is not a multiple of its sector size");
    Buffer buffer = TRY(Buffer::allocate(allocator, options.chunk_size));
    ConvertStats stats;
    stats.bytes_total = source.size();
    for (uint64_t offset = 0; offset < source.size();) {
        uint64_t length = source.size() - offset;
        if (length > options.chunk_size)
            length = options.chunk_size;
        if (!TRY(source.may_have_data(offset, length))) {
            stats.bytes_skipped += length;
        } else {
            std::span<uint8_t> chunk = buffer.span().subspan(0, length);
            TRY(source.read(offset, chunk));
            if (is_all_zero(chunk)) {
                stats.bytes_zero += length;
            } else {
                TRY(sink.write(offset, chunk));
                stats.bytes_written += length;
            }
        }
        offset += length;
        if (options.progress != nullptr)
            options.progress->update(offset, source.size());
    }
    TRY(sink.flush());
    return stats;
}

} // namespace halcyon::vhdx::ops
