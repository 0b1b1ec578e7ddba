// Geometry options shared by create and convert (--block-size, --logical-sector,
// --physical-sector).
#pragma once

#include "vhdx/disk.hpp"
#include "vhdx/tool/tool_common.hpp"

namespace halcyon::vhdx::tool {

inline bool parse_geometry_options(const Args& args, CreateOptions& options, std::string& error) {
    if (args.has("block-size")) {
        auto size = parse_size(args.value("block-size"));
        if (!size || *size < kMinBlockSize || *size > kMaxBlockSize || (*size & (*size - 1))) {
            error = "--block-size must be a power of two from 1M to 256M";
            return false;
        }
        options.block_size = static_cast<uint32_t>(*size);
    }
    for (const char* name : {"logical-sector", "physical-sector"}) {
        if (!args.has(name))
            continue;
        std::string value = args.value(name);
        if (value != "512" && value != "4096") {
            error = std::string("--") + name + " must be 512 or 4096";
            return false;
        }
        uint32_t bytes = value == "512" ? 512 : 4096;
        if (name[0] == 'l')
            options.logical_sector_size = bytes;
        else
            options.physical_sector_size = bytes;
    }
    return true;
}

} // namespace halcyon::vhdx::tool
