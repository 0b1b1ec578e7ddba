// vhdx metadata get FILE GUID              (the item's bytes to standard output)
// vhdx metadata set FILE GUID --from FILE [--virtual-disk]   (create or replace a user item)
#include "vhdx/tool/commands.hpp"
#include "vhdx/tool/tool_common.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <unistd.h>
#include <vector>

namespace halcyon::vhdx::tool {

int command_metadata(int argc, char** argv) {
    if (argc < 3)
        return fail("metadata: expected 'get' or 'set'");
    std::string verb = argv[2];
    Args args;
    std::string error;
    if (!parse_args(argc, argv, 3, {"from"}, {"virtual-disk"}, args, error))
        return fail("metadata: " + error);
    if (args.positional.size() != 2)
        return fail("metadata: expected FILE GUID");
    const std::string& path = args.positional[0];
    Guid id{};
    if (!Guid::parse(args.positional[1].data(), args.positional[1].size(), id))
        return fail("metadata: '" + args.positional[1] + "' is not a GUID");
    if (verb == "get") {
        auto opened = open_disk(path, false, error);
        if (!opened)
            return fail("metadata: " + error);
        uint32_t length = 0;
        bool found = false;
        for (uint32_t i = 0; i < opened->disk->metadata_item_count(); ++i) {
            if (opened->disk->metadata_item(i).id == id) {
                length = opened->disk->metadata_item(i).length;
                found = true;
            }
        }
        if (!found)
            return fail("metadata: " + path + " has no item " + args.positional[1]);
        std::vector<uint8_t> bytes(length);
        auto read = opened->disk->read_metadata(id, bytes);
        if (read.is_error())
            return fail("metadata: " + describe(read.error(), opened->io.get()));
        if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size())
            return fail("metadata: writing to standard output failed");
        return kExitOk;
    }
    if (verb == "set") {
        if (!args.has("from"))
            return fail("metadata: set needs --from FILE");
        std::ifstream in(args.value("from"), std::ios::binary);
        if (!in)
            return fail("metadata: cannot read " + args.value("from") + ": " +
                        std::strerror(errno));
        std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
        auto opened = open_disk(path, true, error);
        if (!opened)
            return fail("metadata: " + error);
        auto written = opened->disk->write_metadata(id, bytes, args.has("virtual-disk"));
        if (written.is_error())
            return fail("metadata: " + describe(written.error(), opened->io.get()));
        if (std::string closed = opened->close(); !closed.empty())
            return fail("metadata: " + closed);
        return kExitOk;
    }
    return fail("metadata: unknown action '" + verb + "' (expected get or set)");
}

} // namespace halcyon::vhdx::tool
