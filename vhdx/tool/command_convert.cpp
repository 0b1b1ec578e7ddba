// vhdx convert SRC DST [--type fixed|dynamic|raw] [--block-size SIZE]
//              [--logical-sector 512|4096] [--physical-sector 512|4096]
// SRC is raw or VHDX (detected by its file identifier). A differencing SRC is flattened: the
// output holds what the whole chain reads. The default type is dynamic, or raw when DST ends in
// .raw/.img/.bin. DST is written under a temporary name and renamed only when complete.
#include "vhdx/ops/convert.hpp"
#include "vhdx/tool/commands.hpp"
#include "vhdx/tool/disk_options.hpp"
#include "vhdx/tool/tool_common.hpp"

#include <cstdio>

namespace halcyon::vhdx::tool {
namespace {

bool ends_with(const std::string& text, const char* suffix) {
    std::string s = suffix;
    return text.size() >= s.size() && text.compare(text.size() - s.size(), s.size(), s) == 0;
}

} // namespace

int command_convert(int argc, char** argv) {
    Args args;
    std::string error;
    if (!parse_args(argc, argv, 2, {"type", "block-size", "logical-sector", "physical-sector"}, {},
                    args, error))
        return fail("convert: " + error);
    if (args.positional.size() != 2)
        return fail("convert: expected SRC and DST");
    const std::string& source_path = args.positional[0];
    const std::string& destination = args.positional[1];
    bool raw_name = ends_with(destination, ".raw") || ends_with(destination, ".img") ||
                    ends_with(destination, ".bin");
    std::string type = args.value("type", raw_name ? "raw" : "dynamic");
    if (type != "raw" && type != "fixed" && type != "dynamic")
        return fail("convert: --type must be fixed, dynamic or raw");

    // The source: a VHDX chain, or raw bytes.
    std::unique_ptr<OpenDisk> source_disk;
    std::unique_ptr<FileBlockIo> source_raw;
    std::unique_ptr<ops::ImageSource> source;
    source_raw = FileBlockIo::open(source_path, FileBlockIo::Mode::read_only, error);
    if (!source_raw)
        return fail("convert: " + error);
    uint32_t source_sector = 512;
    if (looks_like_vhdx(*source_raw)) {
        source_raw.reset();
        source_disk = open_disk(source_path, false, error);
        if (!source_disk)
            return fail("convert: " + error);
        source = std::make_unique<ops::VhdxSource>(*source_disk->disk);
        source_sector = source_disk->disk->info().logical_sector_size;
    } else {
        auto size = source_raw->size();
        if (size.is_error())
            return fail("convert: " + describe(size.error(), source_raw.get()));
        if (size.value() == 0)
            return fail("convert: " + source_path + " is empty");
        source = std::make_unique<ops::RawSource>(*source_raw, size.value());
    }

    auto output = TempOutput::create(destination, error);
    if (!output)
        return fail("convert: " + error);
    MallocAllocator allocator;
    UrandomSource random;
    TerminalProgress progress("converting " + source_path);
    ops::ConvertOptions convert_options;
    convert_options.progress = &progress;
    if (source->sector_size() > 512 && convert_options.chunk_size % source->sector_size() != 0)
        convert_options.chunk_size = source->sector_size();
    ops::ConvertStats stats;
    if (type == "raw") {
        auto sized = output->io().set_size(source->size());
        if (sized.is_error())
            return fail("convert: " + describe(sized.error(), &output->io()));
        ops::RawSink sink(output->io());
        auto copied = ops::copy_image(*source, sink, allocator, convert_options);
        if (copied.is_error())
            return fail("convert: " + describe(copied.error(), &output->io()));
        stats = copied.value();
    } else {
        CreateOptions options;
        options.type = type == "fixed" ? DiskType::fixed : DiskType::dynamic;
        options.logical_sector_size = source_sector;
        if (!parse_geometry_options(args, options, error))
            return fail("convert: " + error);
        if (source->size() % options.logical_sector_size != 0)
            return fail("convert: the source size is not a multiple of the logical sector size");
        options.virtual_size = source->size();
        options.random = &random;
        auto created = Disk::create(output->io(), allocator, options);
        if (created.is_error())
            return fail("convert: " + destination + ": " +
                        describe(created.error(), &output->io()));
        Disk* disk = created.value();
        ops::VhdxSink sink(*disk);
        auto copied = ops::copy_image(*source, sink, allocator, convert_options);
        if (copied.is_error()) {
            disk->abandon();
            return fail("convert: " + describe(copied.error(), &output->io()));
        }
        stats = copied.value();
        auto closed = disk->close();
        if (closed.is_error())
            return fail("convert: " + describe(closed.error(), &output->io()));
    }
    if (std::string committed = output->commit(); !committed.empty())
        return fail("convert: " + committed);
    std::fprintf(stderr, "converted %s: %s written, %s zero, %s unallocated\n",
                 format_size(stats.bytes_total).c_str(), format_size(stats.bytes_written).c_str(),
                 format_size(stats.bytes_zero).c_str(), format_size(stats.bytes_skipped).c_str());
    return kExitOk;
}

} // namespace halcyon::vhdx::tool
