// The check driver (structure by structure, stopping where later checks would read garbage)
// and the repair built on it.
#include "vhdx/crc32c.hpp"
#include "vhdx/disk.hpp"
#include "vhdx/ops/check_context.hpp"

namespace halcyon::vhdx::ops {

ErrorOr<CheckResult> check_file(BlockIo& io, Allocator& allocator, CheckSink& sink) {
    detail::CheckContext context{io, allocator, sink};
    context.result.file_size = TRY(io.size());
    if (!TRY(detail::check_header_section(context)))
        return context.result;
    TRY(detail::check_log(context));
    if (!TRY(detail::check_region_tables(context)))
        return context.result;
    if (!TRY(detail::check_metadata(context)))
        return context.result;
    TRY(detail::check_bat(context));
    return context.result;
}

namespace {

// Rewrites the invalid header copy from the current one, with the next sequence number (so it
// becomes current; its contents are otherwise the same) and a fresh CRC.
ErrorOr<void> rewrite_header(BlockIo& io, Allocator& allocator, const CheckResult& result) {
    Buffer header = TRY(Buffer::allocate(allocator, format::kHeaderSize));
    TRY(io.read(format::kHeaderOffset[result.current_header], header.span()));
    auto* h = header.as<format::Header>();
    h->sequence_number++;
    h->checksum = 0;
    h->checksum = crc32c_with_zero_field(header.span(), offsetof(format::Header, checksum));
    int bad = 1 - result.current_header;
    TRY(io.write(format::kHeaderOffset[bad], header.span()));
    return io.flush();
}

ErrorOr<void> rewrite_region_table(BlockIo& io, Allocator& allocator, const CheckResult& result) {
    Buffer table = TRY(Buffer::allocate(allocator, format::kRegionTableSize));
    TRY(io.read(format::kRegionTableOffset[result.good_region_table], table.span()));
    TRY(io.write(format::kRegionTableOffset[1 - result.good_region_table], table.span()));
    return io.flush();
}

} // namespace

ErrorOr<CheckResult> repair_file(BlockIo& io, Allocator& allocator, RandomSource& random,
                                 ParentResolver* resolver, CheckSink& before, CheckSink& after,
                                 RepairActions& actions) {
    CheckResult first = TRY(check_file(io, allocator, before));
    if (first.verdict != Verdict::repairable)
        return first;
    if (io.read_only())
        return Error(ErrorCode::permission, "repair: the file is read-only");
    if (first.current_header >= 0 && (first.header_invalid[0] || first.header_invalid[1])) {
        TRY(rewrite_header(io, allocator, first));
        actions.rewrote_header = true;
    }
    if (first.good_region_table >= 0 &&
        (first.region_table_invalid[0] || first.region_table_invalid[1])) {
        TRY(rewrite_region_table(io, allocator, first));
        actions.rewrote_region_table = true;
    }
    if (first.log_dirty) {
        // Disk::open replays the log (only a complete, valid sequence) and clears LogGuid;
        // close() leaves the file clean. Repair tools accept a parent whose linkage changed.
        OpenOptions options;
        options.random = &random;
        options.parent_resolver = resolver;
        options.ignore_parent_linkage = true;
        Disk* disk = TRY(Disk::open(io, allocator, options));
        TRY(disk->close());
        actions.replayed_log = true;
    }
    return check_file(io, allocator, after);
}

} // namespace halcyon::vhdx::ops
