// vhdx info FILE [--json]
#include "vhdx/tool/commands.hpp"
#include "vhdx/tool/tool_common.hpp"

#include <cstdio>

namespace halcyon::vhdx::tool {
namespace {

const char* type_name(DiskType type) {
    switch (type) {
    case DiskType::fixed:
        return "fixed";
    case DiskType::dynamic:
        return "dynamic";
    case DiskType::differencing:
        return "differencing";
    }
    return "?";
}

std::string guid_text(const Guid& guid) {
    char text[40];
    guid.format(text);
    return text;
}

std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        unsigned char u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20) {
            char escape[8];
            std::snprintf(escape, sizeof(escape), "\\u%04x", u);
            out += escape;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

const char* item_name(const Guid& id) {
    struct Known {
        Guid id;
        const char* name;
    };
    static const Known known[] = {
        {{0xcaa16737, 0xfa36, 0x4d43, {0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b}},
         "file_parameters"},
        {{0x2fa54224, 0xcd1b, 0x4876, {0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8}},
         "virtual_disk_size"},
        {{0xbeca12ab, 0xb2e6, 0x4523, {0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46}},
         "page83_data"},
        {{0x8141bf1d, 0xa96f, 0x4709, {0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f}},
         "logical_sector_size"},
        {{0xcda348c7, 0x445d, 0x4471, {0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56}},
         "physical_sector_size"},
        {{0xa8d35f2d, 0xb30b, 0x454d, {0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c}},
         "parent_locator"},
    };
    for (const Known& k : known)
        if (k.id == id)
            return k.name;
    return "";
}

void print_json(const std::string& path, const Disk& disk, const DiskInfo& info) {
    std::printf("{\n  \"file\": %s,\n", json_string(path).c_str());
    std::printf("  \"type\": \"%s\",\n", type_name(info.type));
    std::printf("  \"virtual_size\": %llu,\n", (unsigned long long)info.virtual_size);
    std::printf("  \"file_size\": %llu,\n", (unsigned long long)info.file_size);
    std::printf("  \"block_size\": %u,\n", info.block_size);
    std::printf("  \"logical_sector_size\": %u,\n", info.logical_sector_size);
    std::printf("  \"physical_sector_size\": %u,\n", info.physical_sector_size);
    std::printf("  \"leave_blocks_allocated\": %s,\n",
                info.leave_blocks_allocated ? "true" : "false");
    std::printf("  \"has_parent\": %s,\n", info.has_parent ? "true" : "false");
    std::printf("  \"chunk_ratio\": %u,\n", info.chunk_ratio);
    std::printf("  \"disk_id\": \"%s\",\n", guid_text(info.disk_id).c_str());
    std::printf("  \"file_write_guid\": \"%s\",\n", guid_text(info.file_write_guid).c_str());
    std::printf("  \"data_write_guid\": \"%s\",\n", guid_text(info.data_write_guid).c_str());
    std::printf("  \"log_guid\": \"%s\",\n", guid_text(info.log_guid).c_str());
    std::printf("  \"header_sequence_number\": %llu,\n",
                (unsigned long long)info.header_sequence_number);
    std::printf(
        "  \"regions\": {\"bat\": {\"offset\": %llu, \"length\": %u}, \"metadata\": "
        "{\"offset\": %llu, \"length\": %u}, \"log\": {\"offset\": %llu, \"length\": %u}},\n",
        (unsigned long long)info.bat_offset, info.bat_length,
        (unsigned long long)info.metadata_offset, info.metadata_length,
        (unsigned long long)info.log_offset, info.log_length);
    const BlockStateCounts& b = info.blocks;
    std::printf("  \"blocks\": {\"payload\": %llu, \"not_present\": %llu, \"undefined\": %llu, "
                "\"zero\": %llu, \"unmapped\": %llu, \"fully_present\": %llu, "
                "\"partially_present\": %llu, \"sector_bitmaps\": %llu},\n",
                (unsigned long long)info.payload_blocks, (unsigned long long)b.not_present,
                (unsigned long long)b.undefined, (unsigned long long)b.zero,
                (unsigned long long)b.unmapped, (unsigned long long)b.fully_present,
                (unsigned long long)b.partially_present,
                (unsigned long long)b.sector_bitmap_present);
    std::printf("  \"parent_locator\": {");
    for (size_t i = 0; i < info.parent_locator.size(); ++i)
        std::printf("%s%s: %s", i ? ", " : "", json_string(info.parent_locator[i].key).c_str(),
                    json_string(info.parent_locator[i].value).c_str());
    std::printf("},\n  \"metadata_items\": [");
    for (uint32_t i = 0; i < disk.metadata_item_count(); ++i) {
        MetadataItemInfo item = disk.metadata_item(i);
        std::printf("%s\n    {\"id\": \"%s\", \"name\": %s, \"length\": %u, \"user\": %s, "
                    "\"virtual_disk\": %s, \"required\": %s}",
                    i ? "," : "", guid_text(item.id).c_str(),
                    json_string(item_name(item.id)).c_str(), item.length,
                    item.is_user ? "true" : "false", item.is_virtual_disk ? "true" : "false",
                    item.is_required ? "true" : "false");
    }
    std::printf("\n  ]\n}\n");
}

void print_human(const std::string& path, const Disk& disk, const DiskInfo& info) {
    std::printf("file:              %s\n", path.c_str());
    std::printf("type:              %s\n", type_name(info.type));
    std::printf("virtual size:      %s (%llu bytes)\n", format_size(info.virtual_size).c_str(),
                (unsigned long long)info.virtual_size);
    std::printf("file size:         %s (%llu bytes)\n", format_size(info.file_size).c_str(),
                (unsigned long long)info.file_size);
    std::printf("block size:        %s\n", format_size(info.block_size).c_str());
    std::printf("sector size:       %u logical, %u physical\n", info.logical_sector_size,
                info.physical_sector_size);
    std::printf("disk id:           %s\n", guid_text(info.disk_id).c_str());
    std::printf("data write guid:   %s\n", guid_text(info.data_write_guid).c_str());
    std::printf("log:               %s at %llu, %s\n", info.log_guid.is_zero() ? "empty" : "active",
                (unsigned long long)info.log_offset, format_size(info.log_length).c_str());
    const BlockStateCounts& b = info.blocks;
    std::printf("blocks:            %llu (present %llu, partial %llu, not present %llu, zero "
                "%llu, unmapped %llu, undefined %llu; sector bitmaps %llu)\n",
                (unsigned long long)info.payload_blocks, (unsigned long long)b.fully_present,
                (unsigned long long)b.partially_present, (unsigned long long)b.not_present,
                (unsigned long long)b.zero, (unsigned long long)b.unmapped,
                (unsigned long long)b.undefined, (unsigned long long)b.sector_bitmap_present);
    for (const ParentLocatorEntry& entry : info.parent_locator)
        std::printf("parent locator:    %.*s = %.*s\n", int(entry.key.size()), entry.key.data(),
                    int(entry.value.size()), entry.value.data());
    std::printf("metadata items:    %u\n", disk.metadata_item_count());
    for (uint32_t i = 0; i < disk.metadata_item_count(); ++i) {
        MetadataItemInfo item = disk.metadata_item(i);
        std::printf("  %s %6u bytes %s%s%s\n", guid_text(item.id).c_str(), item.length,
                    item.is_user ? "user" : item_name(item.id),
                    item.is_virtual_disk ? " virtual-disk" : "",
                    item.is_required ? " required" : "");
    }
}

} // namespace

int command_info(int argc, char** argv) {
    Args args;
    std::string error;
    if (!parse_args(argc, argv, 2, {}, {"json"}, args, error))
        return fail("info: " + error);
    if (args.positional.size() != 1)
        return fail("info: expected exactly one FILE");
    auto opened = open_disk(args.positional[0], false, error);
    if (!opened)
        return fail("info: " + error);
    DiskInfo info = opened->disk->info();
    if (args.has("json"))
        print_json(args.positional[0], *opened->disk, info);
    else
        print_human(args.positional[0], *opened->disk, info);
    return kExitOk;
}

} // namespace halcyon::vhdx::tool
