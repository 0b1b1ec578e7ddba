// `vhdx`: create, inspect, check, convert and merge VHDX files from the command line.
#include "vhdx/tool/commands.hpp"
#include "vhdx/tool/tool_common.hpp"

#include <cstdio>
#include <cstring>

using namespace halcyon::vhdx::tool;

namespace {

const char kUsage[] =
    "usage: vhdx COMMAND ...\n"
    "  create FILE --size SIZE [--type fixed|dynamic|differencing] [--parent PARENT]\n"
    "         [--block-size SIZE] [--logical-sector 512|4096] [--physical-sector 512|4096]\n"
    "         [--log-size SIZE]\n"
    "  info FILE [--json]\n"
    "  check FILE [--repair]          exit 0 clean, 1 repairable, 2 damaged, 3 error\n"
    "  read FILE --offset N --length M   (data to standard output)\n"
    "  write FILE --offset N             (data from standard input)\n"
    "  convert SRC DST [--type fixed|dynamic|raw] [--block-size SIZE]\n"
    "         [--logical-sector 512|4096] [--physical-sector 512|4096]\n"
    "  resize FILE --size SIZE [--force]\n"
    "  compact FILE\n"
    "  merge CHILD                       (into its parent; CHILD can be deleted afterwards)\n"
    "  metadata get FILE GUID            (item bytes to standard output)\n"
    "  metadata set FILE GUID --from FILE [--virtual-disk]\n"
    "SIZE takes K/M/G/T suffixes (powers of 1024). Exit status 3 means a usage or I/O error.\n";

struct Command {
    const char* name;
    int (*run)(int, char**);
};

const Command kCommands[] = {
    {"create", command_create},     {"info", command_info},       {"check", command_check},
    {"read", command_read},         {"write", command_write},     {"convert", command_convert},
    {"resize", command_resize},     {"compact", command_compact}, {"merge", command_merge},
    {"metadata", command_metadata},
};

} // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
        std::strcmp(argv[1], "help") == 0) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? kExitError : kExitOk;
    }
    for (const Command& command : kCommands)
        if (std::strcmp(argv[1], command.name) == 0)
            return command.run(argc, argv);
    std::fprintf(stderr, "vhdx: unknown command '%s'\n%s", argv[1], kUsage);
    return kExitError;
}
