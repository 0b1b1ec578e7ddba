// vhdx merge CHILD; vhdx resize FILE --size SIZE [--force]; vhdx compact FILE
#include "vhdx/ops/merge.hpp"
#if __has_include("vhdx/resize.hpp")
#include "vhdx/resize.hpp"
#endif
#if __has_include("vhdx/compact.hpp")
#include "vhdx/compact.hpp"
#endif
#include "vhdx/tool/commands.hpp"
#include "vhdx/tool/tool_common.hpp"

#include <cstdio>

namespace halcyon::vhdx::tool {

namespace {

// Opens the child writable. An interrupted merge can leave the parent with a dirty log, and
// parents inside a chain are opened read-only (never replayed): such a parent is replayed by
// opening it writable on its own, then the child is opened again. An interrupted merge also
// changed the parent's DataWriteGuid, so the child's parent_linkage no longer matches; then
// the child is opened ignoring the linkage, and only kept if it carries a merge record (which
// Merger::start checks against the parent's disk id).
std::unique_ptr<OpenDisk> open_merge_child(const std::string& path, std::string& error) {
    for (uint32_t attempt = 0; attempt <= kMaxParentDepth; ++attempt) {
        ErrorCode code{};
        std::string last_parent;
        auto child = open_disk(path, true, error, false, &code, &last_parent);
        if (child)
            return child;
        if (code == ErrorCode::permission && !last_parent.empty()) {
            std::string replay_error;
            auto parent = open_disk(last_parent, true, replay_error, true);
            if (!parent || !parent->close().empty())
                return nullptr;
            std::fprintf(stderr, "vhdx: merge: replayed the log of %s\n", last_parent.c_str());
            continue;
        }
        std::string retry_error;
        auto retry = open_disk(path, true, retry_error, true);
        if (!retry)
            return nullptr;
        ops::MergeRecord record{};
        auto has_record = ops::read_merge_record(*retry->disk, record);
        if (has_record.is_error() || !has_record.value())
            return nullptr; // keep the first error: the linkage mismatch
        std::fprintf(stderr, "vhdx: merge: resuming an interrupted merge of %s\n", path.c_str());
        return retry;
    }
    return nullptr;
}

} // namespace

int command_merge(int argc, char** argv) {
    Args args;
    std::string error;
    if (!parse_args(argc, argv, 2, {}, {}, args, error))
        return fail("merge: " + error);
    if (args.positional.size() != 1)
        return fail("merge: expected exactly one CHILD");
    const std::string& path = args.positional[0];
    auto child = open_merge_child(path, error);
    if (!child)
        return fail("merge: " + error);
    if (child->disk->info().type != DiskType::differencing)
        return fail("merge: " + path + " is not a differencing disk");
    std::string parent_path = child->resolver.parent_path_of(*child->io);
    auto parent = open_disk(parent_path, true, error, true);
    if (!parent)
        return fail("merge: parent " + error);
    TerminalProgress progress("merging " + path);
    ops::MergeOptions options;
    options.progress = &progress;
    auto merger = ops::Merger::start(*child->disk, *parent->disk, child->allocator, options);
    if (merger.is_error())
        return fail("merge: " + describe(merger.error(), parent->io.get()));
    auto ran = merger.value().run();
    if (ran.is_error())
        return fail("merge: " + describe(ran.error(), parent->io.get()) +
                    " (the chain is intact; run merge again to resume)");
    ops::MergeStats stats = merger.value().stats();
    if (std::string closed = parent->close(); !closed.empty())
        return fail("merge: closing the parent: " + closed);
    if (std::string closed = child->close(); !closed.empty())
        return fail("merge: closing the child: " + closed);
    std::fprintf(stderr,
                 "merged %s into %s: %llu blocks, %s written, %s already equal; %s can now be "
                 "deleted\n",
                 path.c_str(), parent_path.c_str(), (unsigned long long)stats.blocks_merged,
                 format_size(stats.bytes_written).c_str(),
                 format_size(stats.bytes_unchanged).c_str(), path.c_str());
    return kExitOk;
}

// Resize and compaction are library operations (vhdx/resize.hpp, vhdx/compact.hpp); a build
// without them says so instead of pretending.
int command_resize(int argc, char** argv) {
#if __has_include("vhdx/resize.hpp")
    Args args;
    std::string error;
    if (!parse_args(argc, argv, 2, {"size"}, {"force"}, args, error))
        return fail("resize: " + error);
    if (args.positional.size() != 1 || !args.has("size"))
        return fail("resize: expected FILE --size SIZE [--force]");
    auto size = parse_size(args.value("size"));
    if (!size)
        return fail("resize: bad --size '" + args.value("size") + "'");
    auto opened = open_disk(args.positional[0], true, error);
    if (!opened)
        return fail("resize: " + error);
    ResizeOptions options;
    options.force = args.has("force");
    auto resized = resize(*opened->disk, *size, options);
    if (resized.is_error())
        return fail("resize: " + args.positional[0] + ": " +
                    describe(resized.error(), opened->io.get()));
    if (std::string closed = opened->close(); !closed.empty())
        return fail("resize: " + closed);
    return kExitOk;
#else
    return fail("resize: not available in this build (the library has no resize operation)");
#endif
}

int command_compact(int argc, char** argv) {
#if __has_include("vhdx/compact.hpp")
    Args args;
    std::string error;
    if (!parse_args(argc, argv, 2, {}, {}, args, error))
        return fail("compact: " + error);
    if (args.positional.size() != 1)
        return fail("compact: expected exactly one FILE");
    auto opened = open_disk(args.positional[0], true, error);
    if (!opened)
        return fail("compact: " + error);
    auto compacted = compact(*opened->disk);
    if (compacted.is_error())
        return fail("compact: " + args.positional[0] + ": " +
                    describe(compacted.error(), opened->io.get()));
    if (std::string closed = opened->close(); !closed.empty())
        return fail("compact: " + closed);
    const CompactResult& r = compacted.value();
    std::fprintf(stderr, "compacted %s: %s -> %s (%llu blocks moved)\n", args.positional[0].c_str(),
                 format_size(r.old_file_size).c_str(), format_size(r.new_file_size).c_str(),
                 (unsigned long long)r.blocks_moved);
    return kExitOk;
#else
    return fail("compact: not available in this build (the library has no compaction)");
#endif
}

} // namespace halcyon::vhdx::tool
