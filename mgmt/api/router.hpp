// Maps a request's method and path to an endpoint of the versioned API (/v1/...), capturing the
// path parameters (percent-decoded). Pure and table-driven, so routing is tested on its own.
#pragma once

#include <optional>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::mgmt {

enum class Endpoint : uint8_t {
    get_host,
    list_vms,
    create_vm,
    get_vm,
    set_vm,
    remove_vm,
    start_vm,
    stop_vm,
    restart_vm,
    suspend_vm,
    resume_vm,
    read_console,
    write_console,
    read_log,
    upload_file,
    // The storage and integration-service verbs (api_vhds.cpp, vhd_host.hpp).
    create_vhd,
    get_vhd,
    resize_vhd,
    list_vm_disks,
    add_vm_disk,
    remove_vm_disk,
    list_integration_services,
};

struct RouteParams {
    std::string_view name; // {name}: a VM
    std::string_view path; // {path*}: a file name, slashes included (or a disk's LUN)
    char storage[512];     // decoded parameters live here
};

struct RouteResult {
    enum class Kind : uint8_t {
        matched,
        not_found,          // no such endpoint (404)
        unknown_version,    // not under /v1/ (404, with a hint)
        method_not_allowed, // the path exists with other methods (405; `allow` lists them)
        bad_path,           // malformed percent-encoding (400)
    };
    Kind kind = Kind::not_found;
    Endpoint endpoint = Endpoint::get_host;
    char allow[64] = {}; // "GET, PATCH, DELETE" for 405
};

[[nodiscard]] RouteResult route_request(std::string_view method, std::string_view path,
                                        RouteParams& params);

// The raw value of `key` in a query string ("since=12&x=y"), or nothing.
[[nodiscard]] std::optional<std::string_view> query_parameter(std::string_view query,
                                                              std::string_view key);

// Percent-decodes `text` into `out`; nothing on a malformed escape or too little room.
[[nodiscard]] std::optional<std::string_view> percent_decode(std::string_view text, char* out,
                                                             size_t capacity);

} // namespace halcyon::mgmt
