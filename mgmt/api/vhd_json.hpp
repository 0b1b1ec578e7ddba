// The JSON forms of the storage and integration-service verbs (vhd_host.hpp) and the validation
// of their request bodies and VHD paths, shared by the endpoints (api_vhds.cpp).
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/api/json_reader.hpp"
#include "mgmt/api/json_writer.hpp"
#include "mgmt/api/vhd_host.hpp"
#include "mgmt/api/vm_json.hpp"

#include <string_view>

namespace halcyon::mgmt {

inline constexpr uint64_t kVhdMaxSizeBytes = 64ULL << 40; // MS-VHDX's limit
inline constexpr uint32_t kVmLunsMax = 64;                // SCSI LUNs of one controller

// A VHD named in a URL ("vms/web/disk.vhdx"), a body or halctl ("ds:/vms/web/disk.vhdx",
// "ds:vms/web/disk.vhdx") as the host gets it: "ds:/vms/web/disk.vhdx". The file must end in
// ".vhdx" (the only format the host makes and opens) and the whole name must be a valid file
// path (printable ASCII, at most 111 characters, no ".." component).
[[nodiscard]] ErrorOr<void> canonical_vhd_path(std::string_view text, FilePath& out);

// {"path", "type", "size_bytes", "file_size_bytes", "block_size_bytes", "logical_sector_bytes",
//  "physical_sector_bytes", "blocks", "allocated_blocks", "disk_id", "attached",
//  "attachments": [{"vm", "lun", "read_only", "online"}]}
void write_vhd_json(JsonWriter& writer, const VhdInfo& vhd);
// {"vm", "controller_type": "SCSI", "lun", "path", "read_only", "online"}
void write_vm_disk_json(JsonWriter& writer, std::string_view vm, const VmHardDiskDrive& drive);
// {"vm", "name", "enabled", "status", "version", "detail"}
void write_integration_service_json(JsonWriter& writer, std::string_view vm,
                                    const IntegrationService& service);

// POST /v1/vhds: {"path", "size_bytes"} required; "type" ("dynamic" default, or "fixed"),
// "block_size_bytes", "logical_sector_bytes", "physical_sector_bytes". Unknown members refused.
[[nodiscard]] ErrorOr<void> parse_vhd_spec(JsonValue body, VhdSpec& out, FieldError& error);
// PATCH /v1/vhds/{path}: {"size_bytes"}.
[[nodiscard]] ErrorOr<uint64_t> parse_vhd_resize(JsonValue body, FieldError& error);
// POST /v1/vms/{name}/disks: {"path"} required, "read_only" (default false).
[[nodiscard]] ErrorOr<void> parse_vm_disk(JsonValue body, FilePath& path, bool& read_only,
                                          FieldError& error);
// The {lun} of DELETE /v1/vms/{name}/disks/{lun}: a decimal number below 64.
[[nodiscard]] ErrorOr<uint32_t> parse_lun(std::string_view text);

} // namespace halcyon::mgmt
