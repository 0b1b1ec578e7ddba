// vhdx create FILE --size SIZE [--type fixed|dynamic|differencing] [--parent PARENT]
//             [--block-size SIZE] [--logical-sector 512|4096] [--physical-sector 512|4096]
//             [--log-size SIZE]
#include "vhdx/tool/commands.hpp"
#include "vhdx/tool/disk_options.hpp"
#include "vhdx/tool/tool_common.hpp"

#include <cstdio>
#include <filesystem>

namespace halcyon::vhdx::tool {

int command_create(int argc, char** argv) {
    Args args;
    std::string error;
    if (!parse_args(argc, argv, 2,
                    {"size", "type", "parent", "block-size", "logical-sector", "physical-sector",
                     "log-size"},
                    {}, args, error))
        return fail("create: " + error);
    if (args.positional.size() != 1)
        return fail("create: expected exactly one FILE");
    const std::string& path = args.positional[0];
    CreateOptions options;
    std::string type = args.value("type", args.has("parent") ? "differencing" : "dynamic");
    if (type == "fixed")
        options.type = DiskType::fixed;
    else if (type == "dynamic")
        options.type = DiskType::dynamic;
    else if (type == "differencing")
        options.type = DiskType::differencing;
    else
        return fail("create: --type must be fixed, dynamic or differencing");
    if (!parse_geometry_options(args, options, error))
        return fail("create: " + error);
    if (args.has("size")) {
        auto size = parse_size(args.value("size"));
        if (!size)
            return fail("create: bad --size '" + args.value("size") + "'");
        options.virtual_size = *size;
    } else if (options.type != DiskType::differencing) {
        return fail("create: --size is required");
    }
    if (args.has("log-size")) {
        auto size = parse_size(args.value("log-size"));
        if (!size || *size > 0xffffffffu)
            return fail("create: bad --log-size");
        options.log_size = static_cast<uint32_t>(*size);
    }

    auto output = TempOutput::create(path, error);
    if (!output)
        return fail("create: " + error);
    FileParentResolver resolver;
    UrandomSource random;
    MallocAllocator allocator;
    std::string relative, absolute;
    options.random = &random;
    if (options.type == DiskType::differencing) {
        if (!args.has("parent"))
            return fail("create: a differencing disk needs --parent PARENT");
        std::string parent = args.value("parent");
        // The parent's sector size is the child's; read it before creating.
        auto parent_disk = open_disk(parent, false, error);
        if (!parent_disk)
            return fail("create: parent " + error);
        DiskInfo parent_info = parent_disk->disk->info();
        if (!args.has("logical-sector"))
            options.logical_sector_size = parent_info.logical_sector_size;
        if (!args.has("block-size"))
            options.block_size =
                parent_info.block_size < 2 * kMiB ? parent_info.block_size : 2 * kMiB;
        parent_disk.reset();
        std::error_code ec;
        auto parent_abs = std::filesystem::weakly_canonical(std::filesystem::absolute(parent), ec);
        auto child_dir =
            std::filesystem::weakly_canonical(std::filesystem::absolute(directory_of(path)), ec);
        absolute = parent_abs.string();
        relative = std::filesystem::relative(parent_abs, child_dir, ec).string();
        if (ec || relative.empty())
            relative = absolute;
        else
            // The locator holds Windows paths (MS-VHDX 2.6.2.6.1), so Hyper-V can follow it;
            // our resolver turns '\' back into '/'.
            for (char& c : relative)
                if (c == '/')
                    c = '\\';
        options.parent_relative_path = relative;
        options.parent_absolute_path = absolute;
        options.parent_resolver = &resolver;
    } else if (args.has("parent")) {
        return fail("create: --parent only makes sense with --type differencing");
    }
    resolver.register_file(output->io());
    auto created = Disk::create(output->io(), allocator, options);
    if (created.is_error())
        return fail("create: " + path + ": " + describe(created.error(), &output->io()));
    auto closed = created.value()->close();
    if (closed.is_error())
        return fail("create: " + path + ": " + describe(closed.error(), &output->io()));
    if (std::string committed = output->commit(); !committed.empty())
        return fail("create: " + committed);
    return kExitOk;
}

} // namespace halcyon::vhdx::tool
