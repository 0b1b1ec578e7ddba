// The JSON forms of VMs and the validation of names, file paths and command lines (the same
// rules as halcyon.cfg, docs/boot-config.md), shared by the endpoints.
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/api/json_reader.hpp"
#include "mgmt/api/json_writer.hpp"
#include "mgmt/api/vm_host.hpp"

#include <string_view>

namespace halcyon::mgmt {

// 1..31 characters from A-Z a-z 0-9 _ -
[[nodiscard]] bool valid_vm_name(std::string_view name);
// Printable ASCII, 1..111 characters, relative (no leading '/'), no '\', no ".." component.
[[nodiscard]] bool valid_file_path(std::string_view path);
// At most 1023 bytes, no control characters other than tab.
[[nodiscard]] bool valid_command_line(std::string_view text);
// 16 MiB..1 TiB, a multiple of 2 MiB.
[[nodiscard]] bool valid_memory_bytes(uint64_t bytes);

// {"name":..., "state":"Running", "memory_bytes":..., "vcpus":..., "kernel":..., "initrd":...,
//  "command_line":..., "disks":[{"path":..., "read_only":...}], "vmbus":..., "uptime_ms":...,
//  "heartbeat":"OkApplicationsUnknown" or null, "computer_name":..., "ip_addresses":[...],
//  "status":...}; the last four are read-only (the integration services' view of the guest and
//  why it last stopped).
void write_vm_json(JsonWriter& writer, const VmInfo& vm);

// Which member of a request body was wrong, for the error message.
struct FieldError {
    std::string_view field; // empty when the body as a whole is wrong
};

// POST /v1/vms: {"name", "memory_bytes", "vcpus", "kernel", "initrd", "command_line", "disks",
// "vmbus"};
// name and kernel are required. Unknown members are refused.
[[nodiscard]] ErrorOr<void> parse_vm_spec(JsonValue body, VmSpec& out, FieldError& error);
// PATCH /v1/vms/{name}: any of the members above except name (which may only repeat the name).
[[nodiscard]] ErrorOr<void> parse_vm_changes(JsonValue body, std::string_view name, VmChanges& out,
                                             FieldError& error);
// "graceful" (also an absent body), "force" or "turnoff".
[[nodiscard]] ErrorOr<StopMode> parse_stop_mode(std::string_view text);

} // namespace halcyon::mgmt
