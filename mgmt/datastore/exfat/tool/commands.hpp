// exfat-tool commands (see main.cpp for the command line).
#pragma once

#include <stdint.h>
#include <string>

namespace halcyon::exfat::tool {

struct Context {
    std::string image;
    uint64_t offset = 0;     // where the volume starts in the image (a partition)
    uint64_t length = 0;     // 0: to the end of the image
    bool defer_sync = false; // one fdatasync at the end instead of a barrier per flush
};

struct FormatArguments {
    uint64_t size = 0;
    uint32_t sector_size = 512;
    uint32_t cluster_size = 0;
    uint32_t serial = 0;
    std::string label;
};

// "64M", "1G", "4096", "512K".
bool parse_size(const std::string& text, uint64_t& out);

int command_format(const Context& context, const FormatArguments& arguments);
int command_put(const Context& context, const std::string& source, std::string dest);
int command_get(const Context& context, const std::string& source, std::string dest);
int command_ls(const Context& context, const std::string& path, bool recursive, bool details);
int command_mkdir(const Context& context, const std::string& path);
int command_rm(const Context& context, const std::string& path, bool recursive);
int command_mv(const Context& context, const std::string& from, const std::string& to);
int command_truncate(const Context& context, const std::string& path, uint64_t size);
int command_check(const Context& context);
int command_info(const Context& context);

} // namespace halcyon::exfat::tool
