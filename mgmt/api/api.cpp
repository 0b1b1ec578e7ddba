#include "mgmt/api/api.hpp"
#include "mgmt/api/text.hpp"

#include "lib/format/format.hpp"
#include "mgmt/api/vm_json.hpp"

namespace halcyon::mgmt {
namespace {

struct StatusForError {
    uint16_t status;
    const char* code;
};

StatusForError status_for(ErrorCode code) {
    switch (code) {
    case ErrorCode::invalid_argument:
        return {400, "invalid_argument"};
    case ErrorCode::out_of_range:
        return {400, "out_of_range"};
    case ErrorCode::not_found:
        return {404, "not_found"};
    case ErrorCode::already_exists:
        return {409, "already_exists"};
    case ErrorCode::busy:
        return {409, "conflict"};
    case ErrorCode::permission:
        return {403, "forbidden"};
    case ErrorCode::out_of_memory:
        return {507, "insufficient_storage"};
    case ErrorCode::not_supported:
        return {501, "not_supported"};
    case ErrorCode::timeout:
        return {504, "timeout"};
    case ErrorCode::io:
    case ErrorCode::corrupt:
        return {500, "internal_error"};
    }
    return {500, "internal_error"};
}

bool is_json_media_type(std::string_view content_type) {
    // "application/json", optionally with parameters ("; charset=utf-8").
    size_t semicolon = content_type.find(';');
    std::string_view type = substring(content_type, 0, semicolon);
    while (!type.empty() && type.back() == ' ')
        type.remove_suffix(1);
    return ascii_equal_ignoring_case(type, "application/json");
}

} // namespace

void respond_error(HttpResponse& response, Error error) {
    StatusForError mapped = status_for(error.code());
    response.set_error(mapped.status, mapped.code,
                       error.message() ? error.message() : error_code_name(error.code()));
}

void respond_field_error(HttpResponse& response, Error error, std::string_view field) {
    if (field.empty()) {
        respond_error(response, error);
        return;
    }
    StatusForError mapped = status_for(error.code());
    char message[256];
    size_t length = format::format(message, sizeof(message), "field '%.*s': %s", int(field.size()),
                                   field.data(), error.message());
    if (length >= sizeof(message))
        length = sizeof(message) - 1;
    response.set_error(mapped.status, mapped.code, std::string_view(message, length));
}

std::optional<JsonDocument> parse_json_body(ApiContext& context, const HttpRequest& request,
                                            HttpResponse& response) {
    std::string_view text = request.body_text();
    if (text.empty())
        text = "{}";
    else if (!is_json_media_type(request.header("content-type").value_or(""))) {
        response.set_error(415, "unsupported_media_type",
                           "a request body must be application/json");
        return std::nullopt;
    }
    JsonParseError where;
    ErrorOr<JsonDocument> document = JsonDocument::parse(text, context.json_tokens, {}, &where);
    if (document.is_error()) {
        char message[160];
        size_t length = format::format(message, sizeof(message), "invalid JSON at byte %u: %s",
                                       unsigned(where.offset), where.message);
        if (length >= sizeof(message))
            length = sizeof(message) - 1;
        response.set_error(400, "invalid_json", std::string_view(message, length));
        return std::nullopt;
    }
    return document.release_value();
}

std::optional<uint64_t> query_number(const HttpRequest& request, std::string_view key,
                                     uint64_t fallback, HttpResponse& response) {
    std::optional<std::string_view> text = query_parameter(request.query, key);
    if (!text)
        return fallback;
    uint64_t value = 0;
    bool ok = !text->empty();
    for (char c : *text) {
        uint64_t digit = uint64_t(c - '0');
        if (c < '0' || c > '9' || value > (UINT64_MAX - digit) / 10) {
            ok = false;
            break;
        }
        value = value * 10 + digit;
    }
    if (!ok) {
        response.set_error(400, "invalid_argument", "query parameter must be a decimal number");
        return std::nullopt;
    }
    return value;
}

bool check_vm_name(const RouteParams& params, HttpResponse& response) {
    if (valid_vm_name(params.name))
        return true;
    response.set_error(400, "invalid_argument",
                       "a VM name is 1 to 31 characters from A-Z a-z 0-9 _ -");
    return false;
}

void handle_api_request(ApiContext& context, const HttpRequest& request, HttpResponse& response) {
    RouteParams params;
    RouteResult route = route_request(request.method, request.path, params);
    switch (route.kind) {
    case RouteResult::Kind::unknown_version:
        response.set_error(404, "not_found", "no such endpoint (this server speaks /v1/)");
        return;
    case RouteResult::Kind::not_found:
        response.set_error(404, "not_found", "no such endpoint");
        return;
    case RouteResult::Kind::bad_path:
        response.set_error(400, "bad_request", "malformed percent-encoding in the path");
        return;
    case RouteResult::Kind::method_not_allowed:
        response.set_error(405, "method_not_allowed", "method not allowed on this endpoint");
        response.add_header("Allow", route.allow);
        return;
    case RouteResult::Kind::matched:
        break;
    }
    switch (route.endpoint) {
    case Endpoint::get_host:
        return handle_get_host(context, request, params, response);
    case Endpoint::read_log:
        return handle_read_log(context, request, params, response);
    case Endpoint::upload_file:
        return handle_upload_file(context, request, params, response);
    case Endpoint::list_vms:
        return handle_list_vms(context, request, params, response);
    case Endpoint::get_vm:
        return handle_get_vm(context, request, params, response);
    case Endpoint::create_vm:
        return handle_create_vm(context, request, params, response);
    case Endpoint::set_vm:
        return handle_set_vm(context, request, params, response);
    case Endpoint::remove_vm:
        return handle_remove_vm(context, request, params, response);
    case Endpoint::start_vm:
    case Endpoint::stop_vm:
    case Endpoint::restart_vm:
    case Endpoint::suspend_vm:
    case Endpoint::resume_vm:
        return handle_vm_action(context, request, params, response, route.endpoint);
    case Endpoint::read_console:
        return handle_read_console(context, request, params, response);
    case Endpoint::write_console:
        return handle_write_console(context, request, params, response);
    case Endpoint::create_vhd:
    case Endpoint::get_vhd:
    case Endpoint::resize_vhd:
    case Endpoint::list_vm_disks:
    case Endpoint::add_vm_disk:
    case Endpoint::remove_vm_disk:
    case Endpoint::list_integration_services:
        return handle_vhd_request(context, request, params, response, route.endpoint);
    }
}

} // namespace halcyon::mgmt
