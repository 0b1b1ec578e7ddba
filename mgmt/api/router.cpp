#include "mgmt/api/router.hpp"
#include "mgmt/api/text.hpp"

#include "mgmt/api/hex.hpp"

#include <string.h>

namespace halcyon::mgmt {
namespace {

struct Route {
    std::string_view method;
    std::string_view pattern; // segments after /v1/; "{name}" one segment, "{path*}" the rest
    Endpoint endpoint;
};

constexpr Route kRoutes[] = {
    {"GET", "host", Endpoint::get_host},
    {"GET", "vms", Endpoint::list_vms},
    {"POST", "vms", Endpoint::create_vm},
    {"GET", "vms/{name}", Endpoint::get_vm},
    {"PATCH", "vms/{name}", Endpoint::set_vm},
    {"DELETE", "vms/{name}", Endpoint::remove_vm},
    {"POST", "vms/{name}/start", Endpoint::start_vm},
    {"POST", "vms/{name}/stop", Endpoint::stop_vm},
    {"POST", "vms/{name}/restart", Endpoint::restart_vm},
    {"POST", "vms/{name}/suspend", Endpoint::suspend_vm},
    {"POST", "vms/{name}/resume", Endpoint::resume_vm},
    {"GET", "vms/{name}/console", Endpoint::read_console},
    {"POST", "vms/{name}/console", Endpoint::write_console},
    {"GET", "log", Endpoint::read_log},
    {"PUT", "files/{path*}", Endpoint::upload_file},
    {"POST", "vhds", Endpoint::create_vhd},
    {"GET", "vhds/{path*}", Endpoint::get_vhd},
    {"PATCH", "vhds/{path*}", Endpoint::resize_vhd},
    {"GET", "vms/{name}/disks", Endpoint::list_vm_disks},
    {"POST", "vms/{name}/disks", Endpoint::add_vm_disk},
    {"DELETE", "vms/{name}/disks/{path*}", Endpoint::remove_vm_disk},
    {"GET", "vms/{name}/integration-services", Endpoint::list_integration_services},
};

constexpr std::string_view kVersionPrefix = "/v1/";

// Splits off the first '/'-separated segment of `text`.
std::string_view next_segment(std::string_view& text, bool& more) {
    size_t slash = text.find('/');
    std::string_view segment = substring(text, 0, slash);
    more = slash != std::string_view::npos;
    text = more ? substring(text, slash + 1) : std::string_view();
    return segment;
}

// Whether `path` (after /v1/) has the shape of `pattern`; captures the raw parameters.
bool match(std::string_view pattern, std::string_view path, std::string_view& name,
           std::string_view& rest) {
    bool pattern_more = true, path_more = true;
    while (pattern_more) {
        std::string_view expected = next_segment(pattern, pattern_more);
        if (expected == "{path*}") {
            rest = path;
            return path_more && !path.empty();
        }
        if (!path_more)
            return false;
        std::string_view actual = next_segment(path, path_more);
        if (expected == "{name}") {
            if (actual.empty())
                return false;
            name = actual;
        } else if (expected != actual) {
            return false;
        }
    }
    return !path_more;
}

void append_allow(char* allow, size_t capacity, std::string_view method) {
    size_t length = strlen(allow);
    size_t needed = (length ? 2 : 0) + method.size();
    if (length + needed >= capacity)
        return;
    if (length) {
        memcpy(allow + length, ", ", 2);
        length += 2;
    }
    memcpy(allow + length, method.data(), method.size());
    allow[length + method.size()] = '\0';
}

} // namespace

std::optional<std::string_view> percent_decode(std::string_view text, char* out, size_t capacity) {
    size_t length = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if (length == capacity)
            return std::nullopt;
        char c = text[i];
        if (c == '%') {
            if (i + 2 >= text.size())
                return std::nullopt;
            int high = hex_digit_value(text[i + 1]);
            int low = hex_digit_value(text[i + 2]);
            if (high < 0 || low < 0)
                return std::nullopt;
            c = char(high << 4 | low);
            i += 2;
        }
        out[length++] = c;
    }
    return std::string_view(out, length);
}

RouteResult route_request(std::string_view method, std::string_view path, RouteParams& params) {
    RouteResult result;
    params.name = {};
    params.path = {};
    if (substring(path, 0, kVersionPrefix.size()) != kVersionPrefix) {
        result.kind = RouteResult::Kind::unknown_version;
        return result;
    }
    std::string_view rest = substring(path, kVersionPrefix.size());
    bool path_matched = false;
    for (const Route& route : kRoutes) {
        std::string_view raw_name, raw_path;
        if (!match(route.pattern, rest, raw_name, raw_path))
            continue;
        path_matched = true;
        if (route.method != method) {
            append_allow(result.allow, sizeof(result.allow), route.method);
            continue;
        }
        size_t half = sizeof(params.storage) / 2;
        std::optional<std::string_view> name = percent_decode(raw_name, params.storage, half);
        std::optional<std::string_view> file =
            percent_decode(raw_path, params.storage + half, half);
        if (!name || !file) {
            result.kind = RouteResult::Kind::bad_path;
            return result;
        }
        params.name = *name;
        params.path = *file;
        result.kind = RouteResult::Kind::matched;
        result.endpoint = route.endpoint;
        return result;
    }
    result.kind =
        path_matched ? RouteResult::Kind::method_not_allowed : RouteResult::Kind::not_found;
    return result;
}

std::optional<std::string_view> query_parameter(std::string_view query, std::string_view key) {
    while (!query.empty()) {
        size_t ampersand = query.find('&');
        std::string_view pair = substring(query, 0, ampersand);
        query = ampersand == std::string_view::npos ? std::string_view()
                                                    : substring(query, ampersand + 1);
        size_t equals = pair.find('=');
        if (substring(pair, 0, equals) == key)
            return equals == std::string_view::npos ? std::string_view()
                                                    : substring(pair, equals + 1);
    }
    return std::nullopt;
}

} // namespace halcyon::mgmt
