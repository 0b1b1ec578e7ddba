// exfat-tool: make and inspect exFAT datastore images from the host. `./halcyon image` uses it
// to build a datastore disk from files; the interop tests use it against exfatprogs.
#include "mgmt/datastore/exfat/tool/commands.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace halcyon::exfat::tool;

namespace {

int usage() {
    std::fprintf(
        stderr, "usage: exfat-tool [--offset BYTES] [--length BYTES] [--defer-sync] COMMAND IMAGE\n"
                "                  ARGS...\n"
                "  --offset/--length: the volume is that byte range of IMAGE (a partition)\n"
                "  --defer-sync: one fdatasync at the end instead of a barrier per flush (for\n"
                "                building images; a crash meanwhile may damage the image)\n"
                "  format IMAGE SIZE [--cluster-size N] [--sector-size 512|4096] [--label L]\n"
                "                    [--serial HEX]   create (or resize) IMAGE and format it\n"
                "  put IMAGE SRC DEST     copy a host file or directory tree in (parents made)\n"
                "  get IMAGE SRC DEST     copy a file or directory tree out (DEST - : stdout)\n"
                "  ls IMAGE [PATH] [-R] [-l]\n"
                "  mkdir IMAGE PATH       (parents too)\n"
                "  rm IMAGE PATH [-r]     a file or an empty directory (-r: a tree)\n"
                "  mv IMAGE FROM TO\n"
                "  truncate IMAGE PATH SIZE\n"
                "  check IMAGE            validate everything (read-only); non-zero on damage\n"
                "  info IMAGE\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    Context context;
    std::vector<std::string> args;
    std::vector<std::string> flags;
    FormatArguments format;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&](uint64_t& out) { return i + 1 < argc && parse_size(argv[++i], out); };
        uint64_t number = 0;
        if (arg == "--offset") {
            if (!value(context.offset))
                return usage();
        } else if (arg == "--length") {
            if (!value(context.length))
                return usage();
        } else if (arg == "--defer-sync") {
            context.defer_sync = true;
        } else if (arg == "--cluster-size") {
            if (!value(number))
                return usage();
            format.cluster_size = static_cast<uint32_t>(number);
        } else if (arg == "--sector-size") {
            if (!value(number) || (number != 512 && number != 4096))
                return usage();
            format.sector_size = static_cast<uint32_t>(number);
        } else if (arg == "--serial") {
            if (i + 1 >= argc)
                return usage();
            format.serial = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 16));
        } else if (arg == "--label") {
            if (i + 1 >= argc)
                return usage();
            format.label = argv[++i];
        } else if (arg == "-R" || arg == "-l" || arg == "-r") {
            flags.push_back(arg);
        } else {
            args.push_back(arg);
        }
    }
    if (args.size() < 2)
        return usage();
    std::string command = args[0];
    context.image = args[1];
    auto has = [&](const char* flag) {
        for (const std::string& f : flags)
            if (f == flag)
                return true;
        return false;
    };
    if (command == "format" && args.size() == 3) {
        if (!parse_size(args[2], format.size))
            return usage();
        return command_format(context, format);
    }
    if (command == "put" && args.size() == 4)
        return command_put(context, args[2], args[3]);
    if (command == "get" && args.size() == 4)
        return command_get(context, args[2], args[3]);
    if (command == "ls" && args.size() <= 3)
        return command_ls(context, args.size() == 3 ? args[2] : "/", has("-R"), has("-l"));
    if (command == "mkdir" && args.size() == 3)
        return command_mkdir(context, args[2]);
    if (command == "rm" && args.size() == 3)
        return command_rm(context, args[2], has("-r"));
    if (command == "mv" && args.size() == 4)
        return command_mv(context, args[2], args[3]);
    if (command == "truncate" && args.size() == 4) {
        uint64_t size = 0;
        if (!parse_size(args[3], size))
            return usage();
        return command_truncate(context, args[2], size);
    }
    if (command == "check" && args.size() == 2)
        return command_check(context);
    if (command == "info" && args.size() == 2)
        return command_info(context);
    return usage();
}
