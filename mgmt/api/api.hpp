// The endpoints of the management API (docs/management-api.md): given an authenticated request,
// route it, parse its body, call VmHost and write the response. Transport, framing and
// authentication are the server's (server.hpp); this layer only sees whole requests.
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/api/http_request.hpp"
#include "mgmt/api/http_response.hpp"
#include "mgmt/api/json_reader.hpp"
#include "mgmt/api/request_verifier.hpp"
#include "mgmt/api/router.hpp"
#include "mgmt/api/vhd_host.hpp"
#include "mgmt/api/vm_host.hpp"

#include <optional>
#include <span>

namespace halcyon::mgmt {

// Counters the server keeps; GET /v1/host reports them under "api".
struct ServerStats {
    uint32_t open_connections = 0;
    uint32_t max_connections = 0;
    uint64_t connections_accepted = 0;
    uint64_t connections_refused = 0; // every slot busy
    uint64_t requests = 0;            // complete requests (authenticated or not)
    uint64_t bad_requests = 0;        // refused by the parser: 400, 413, 414, 431, 501, 505, ...
    uint64_t timeouts = 0;            // 408
    uint64_t auth_failures[kAuthResultCount] = {}; // by AuthResult; [ok] stays 0
    uint64_t responses[6] = {};                    // by class: [2] = 2xx, ... [5] = 5xx

    [[nodiscard]] uint64_t total_auth_failures() const {
        uint64_t total = 0;
        for (uint32_t i = 1; i < kAuthResultCount; ++i)
            total += auth_failures[i];
        return total;
    }
};

struct ApiContext {
    VmHost& host;
    std::span<JsonToken> json_tokens; // scratch for one request body
    const ServerStats& stats;
    // The storage and integration-service verbs; null on a host without them (they answer 501).
    VhdHost* vhds = nullptr;
};

// Answers one authenticated request.
void handle_api_request(ApiContext& context, const HttpRequest& request, HttpResponse& response);

// Sets an error response for an error from VmHost or from body validation (status by code).
void respond_error(HttpResponse& response, Error error);
// The same, naming the body member that was wrong ("field 'vcpus': vcpus must be 1 to 64").
void respond_field_error(HttpResponse& response, Error error, std::string_view field);

// The endpoint handlers (api_vms.cpp, api_host.cpp).
using EndpointHandler = void (*)(ApiContext&, const HttpRequest&, const RouteParams&,
                                 HttpResponse&);
void handle_get_host(ApiContext&, const HttpRequest&, const RouteParams&, HttpResponse&);
void handle_read_log(ApiContext&, const HttpRequest&, const RouteParams&, HttpResponse&);
void handle_upload_file(ApiContext&, const HttpRequest&, const RouteParams&, HttpResponse&);
void handle_list_vms(ApiContext&, const HttpRequest&, const RouteParams&, HttpResponse&);
void handle_get_vm(ApiContext&, const HttpRequest&, const RouteParams&, HttpResponse&);
void handle_create_vm(ApiContext&, const HttpRequest&, const RouteParams&, HttpResponse&);
void handle_set_vm(ApiContext&, const HttpRequest&, const RouteParams&, HttpResponse&);
void handle_remove_vm(ApiContext&, const HttpRequest&, const RouteParams&, HttpResponse&);
void handle_vm_action(ApiContext&, const HttpRequest&, const RouteParams&, HttpResponse&,
                      Endpoint action);
void handle_read_console(ApiContext&, const HttpRequest&, const RouteParams&, HttpResponse&);
void handle_write_console(ApiContext&, const HttpRequest&, const RouteParams&, HttpResponse&);
// api_vhds.cpp: New-VHD, Get-VHD, Resize-VHD, Get-/Add-/Remove-VMHardDiskDrive,
// Get-VMIntegrationService.
void handle_vhd_request(ApiContext&, const HttpRequest&, const RouteParams&, HttpResponse&,
                        Endpoint endpoint);

// Helpers for handlers.
// The request's JSON body, or nothing after answering 400/415. An empty body parses as {}.
[[nodiscard]] std::optional<JsonDocument>
parse_json_body(ApiContext& context, const HttpRequest& request, HttpResponse& response);
// A non-negative decimal query parameter (`fallback` when absent), or nothing after a 400.
[[nodiscard]] std::optional<uint64_t> query_number(const HttpRequest& request, std::string_view key,
                                                   uint64_t fallback, HttpResponse& response);
// Checks {name} and answers 400 when it is not a valid VM name.
[[nodiscard]] bool check_vm_name(const RouteParams& params, HttpResponse& response);

} // namespace halcyon::mgmt
