// Host-level endpoints: GET /v1/host (Get-VMHost), GET /v1/log (Get-VMLog), PUT /v1/files/...
// (Copy-VMFile), and a VM's serial console as polling (Connect-VM).
#include "mgmt/api/api.hpp"
#include "mgmt/api/text.hpp"
#include "mgmt/api/vm_json.hpp"

namespace halcyon::mgmt {
namespace {

// Log text is JSON-escaped; a byte can become six ("\u0001"), so only read as much as is
// certain to fit once escaped.
constexpr size_t kJsonEnvelope = 256;

struct ContentRange {
    uint64_t first;
    uint64_t last;
    uint64_t total;
};

bool parse_decimal(std::string_view text, uint64_t& out) {
    if (text.empty() || text.size() > 19)
        return false;
    out = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return false;
        out = out * 10 + uint64_t(c - '0');
    }
    return true;
}

// "bytes FIRST-LAST/TOTAL" (RFC 9110 section 14.4).
std::optional<ContentRange> parse_content_range(std::string_view text) {
    if (substring(text, 0, 6) != "bytes ")
        return std::nullopt;
    text.remove_prefix(6);
    size_t dash = text.find('-');
    size_t slash = text.find('/');
    if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash)
        return std::nullopt;
    ContentRange range;
    if (!parse_decimal(substring(text, 0, dash), range.first) ||
        !parse_decimal(substring(text, dash + 1, slash - dash - 1), range.last) ||
        !parse_decimal(substring(text, slash + 1), range.total))
        return std::nullopt;
    if (range.first > range.last || range.last >= range.total)
        return std::nullopt;
    return range;
}

} // namespace

void handle_get_host(ApiContext& context, const HttpRequest&, const RouteParams&,
                     HttpResponse& response) {
    ErrorOr<HostInfo> info = context.host.host_info();
    if (info.is_error())
        return respond_error(response, info.error());
    const HostInfo& host = info.value();
    const ServerStats& stats = context.stats;
    JsonWriter& json = response.json();
    json.begin_object();
    json.field("name", host.name.view());
    json.field("version", host.version.view());
    json.field("logical_processors", host.logical_processors);
    json.field("memory_bytes", host.memory_bytes);
    json.field("memory_free_bytes", host.memory_free_bytes);
    json.field("uptime_ms", host.uptime_ms);
    json.field("virtualization", host.virtualization.view());
    json.field("vm_count", context.host.vm_count());
    json.key("api");
    json.begin_object();
    json.field("version", "v1");
    json.field("connections", stats.open_connections);
    json.field("max_connections", stats.max_connections);
    json.field("connections_refused", stats.connections_refused);
    json.field("requests", stats.requests);
    json.field("bad_requests", stats.bad_requests);
    json.field("timeouts", stats.timeouts);
    json.key("auth_failures");
    json.begin_object();
    json.field("total", stats.total_auth_failures());
    for (uint32_t i = 1; i < kAuthResultCount; ++i)
        json.field(auth_result_name(static_cast<AuthResult>(i)), stats.auth_failures[i]);
    json.end_object();
    json.end_object();
    json.end_object();
}

void handle_read_log(ApiContext& context, const HttpRequest& request, const RouteParams&,
                     HttpResponse& response) {
    std::optional<uint64_t> since = query_number(request, "since", 0, response);
    if (!since)
        return;
    // Read the text into the tail of the body space, then escape it into the head: the
    // escaped form is written front to back and never overtakes the unread raw bytes
    // because the raw part starts beyond six times its own length.
    std::span<char> space = response.raw_space();
    size_t usable = space.size() > kJsonEnvelope ? space.size() - kJsonEnvelope : 0;
    size_t chunk = usable / 7;
    std::span<char> raw = space.subspan(space.size() - chunk, chunk);
    ErrorOr<StreamRead> read = context.host.read_log(*since, raw);
    if (read.is_error())
        return respond_error(response, read.error());
    JsonWriter& json = response.json();
    json.begin_object();
    json.field("first", read.value().first);
    json.field("next", read.value().next);
    json.field("text", std::string_view(raw.data(), read.value().length));
    json.end_object();
}

void handle_upload_file(ApiContext& context, const HttpRequest& request, const RouteParams& params,
                        HttpResponse& response) {
    if (!valid_file_path(params.path))
        return response.set_error(400, "invalid_argument",
                                  "invalid file name (relative, printable ASCII, at most 111 "
                                  "characters, no '..' component)");
    ContentRange range{0, 0, request.body.size()};
    if (std::optional<std::string_view> header = request.header("content-range")) {
        std::optional<ContentRange> parsed = parse_content_range(*header);
        if (!parsed || parsed->last - parsed->first + 1 != request.body.size())
            return response.set_error(400, "invalid_argument",
                                      "Content-Range must be 'bytes FIRST-LAST/TOTAL' and match "
                                      "the body length");
        range = *parsed;
    }
    ErrorOr<FileStatus> status =
        context.host.write_file(params.path, range.first, range.total, request.body);
    if (status.is_error())
        return respond_error(response, status.error());
    JsonWriter& json = response.json();
    json.begin_object();
    json.field("path", params.path);
    json.field("size", status.value().size);
    json.field("received", status.value().received);
    json.end_object();
}

void handle_read_console(ApiContext& context, const HttpRequest& request, const RouteParams& params,
                         HttpResponse& response) {
    if (!check_vm_name(params, response))
        return;
    std::optional<uint64_t> since = query_number(request, "since", 0, response);
    if (!since)
        return;
    // Raw bytes: a console carries escape sequences and whatever encoding the guest uses, which
    // a JSON string could not hold exactly.
    ErrorOr<StreamRead> read = context.host.read_console(params.name, *since, response.raw_space());
    if (read.is_error())
        return respond_error(response, read.error());
    response.set_raw_body(read.value().length, "application/octet-stream");
    response.add_header("Halcyon-Console-First", read.value().first);
    response.add_header("Halcyon-Console-Next", read.value().next);
}

void handle_write_console(ApiContext& context, const HttpRequest& request,
                          const RouteParams& params, HttpResponse& response) {
    if (!check_vm_name(params, response))
        return;
    ErrorOr<size_t> written = context.host.write_console(params.name, request.body);
    if (written.is_error())
        return respond_error(response, written.error());
    JsonWriter& json = response.json();
    json.begin_object();
    json.field("accepted", uint64_t(written.value()));
    json.end_object();
}

} // namespace halcyon::mgmt
