// The /v1/vms endpoints: list, get, create (New-VM), change (Set-VM), remove, and the state
// changes (Start-VM, Stop-VM, Restart-VM, Suspend-VM, Resume-VM).
#include "mgmt/api/api.hpp"
#include "mgmt/api/vm_json.hpp"

namespace halcyon::mgmt {
namespace {

// Answers with the VM's current description (after a change, so the client sees its effect).
void respond_vm(ApiContext& context, std::string_view name, HttpResponse& response,
                uint16_t status) {
    ErrorOr<VmInfo> vm = context.host.find_vm(name);
    if (vm.is_error())
        return respond_error(response, vm.error());
    response.set_status(status);
    write_vm_json(response.json(), vm.value());
}

} // namespace

void handle_list_vms(ApiContext& context, const HttpRequest&, const RouteParams&,
                     HttpResponse& response) {
    JsonWriter& json = response.json();
    json.begin_object();
    json.key("vms");
    json.begin_array();
    uint32_t count = context.host.vm_count();
    for (uint32_t i = 0; i < count; ++i) {
        ErrorOr<VmInfo> vm = context.host.vm_at(i);
        if (vm.is_error())
            break; // removed meanwhile: the list simply ends
        write_vm_json(json, vm.value());
    }
    json.end_array();
    json.end_object();
}

void handle_get_vm(ApiContext& context, const HttpRequest&, const RouteParams& params,
                   HttpResponse& response) {
    if (check_vm_name(params, response))
        respond_vm(context, params.name, response, 200);
}

void handle_create_vm(ApiContext& context, const HttpRequest& request, const RouteParams&,
                      HttpResponse& response) {
    std::optional<JsonDocument> body = parse_json_body(context, request, response);
    if (!body)
        return;
    VmSpec spec;
    FieldError field;
    if (auto parsed = parse_vm_spec(body->root(), spec, field); parsed.is_error())
        return respond_field_error(response, parsed.error(), field.field);
    if (auto created = context.host.create_vm(spec); created.is_error())
        return respond_error(response, created.error());
    char location[64] = "/v1/vms/";
    size_t prefix = 8;
    for (char c : spec.name.view())
        location[prefix++] = c;
    response.add_header("Location", std::string_view(location, prefix));
    respond_vm(context, spec.name.view(), response, 201);
}

void handle_set_vm(ApiContext& context, const HttpRequest& request, const RouteParams& params,
                   HttpResponse& response) {
    if (!check_vm_name(params, response))
        return;
    std::optional<JsonDocument> body = parse_json_body(context, request, response);
    if (!body)
        return;
    VmChanges changes;
    FieldError field;
    if (auto parsed = parse_vm_changes(body->root(), params.name, changes, field);
        parsed.is_error())
        return respond_field_error(response, parsed.error(), field.field);
    if (auto changed = context.host.set_vm(params.name, changes); changed.is_error())
        return respond_error(response, changed.error());
    respond_vm(context, params.name, response, 200);
}

void handle_remove_vm(ApiContext& context, const HttpRequest&, const RouteParams& params,
                      HttpResponse& response) {
    if (!check_vm_name(params, response))
        return;
    if (auto removed = context.host.remove_vm(params.name); removed.is_error())
        return respond_error(response, removed.error());
    JsonWriter& json = response.json();
    json.begin_object();
    json.field("name", params.name);
    json.field("removed", true);
    json.end_object();
}

void handle_vm_action(ApiContext& context, const HttpRequest& request, const RouteParams& params,
                      HttpResponse& response, Endpoint action) {
    if (!check_vm_name(params, response))
        return;
    std::optional<JsonDocument> body = parse_json_body(context, request, response);
    if (!body)
        return;
    JsonValue root = body->root();
    if (!root.is(JsonType::object))
        return response.set_error(400, "invalid_argument", "the request body must be an object");
    // Only stop takes a member ("mode"); anything else in a body is a mistake worth reporting.
    JsonValue key = root.first_child();
    for (uint32_t i = 0; i < root.size(); ++i, key = key.next_sibling().next_sibling()) {
        if (action != Endpoint::stop_vm || !key.string_equals("mode"))
            return respond_field_error(
                response, Error(ErrorCode::invalid_argument, "unknown field"), key.raw());
    }
    ErrorOr<void> result;
    switch (action) {
    case Endpoint::start_vm:
        result = context.host.start_vm(params.name);
        break;
    case Endpoint::stop_vm: {
        StopMode mode = StopMode::graceful;
        if (std::optional<JsonValue> value = root.member("mode")) {
            char text[16];
            ErrorOr<std::string_view> mode_text = value->as_string(text);
            ErrorOr<StopMode> parsed = mode_text.is_error() ? ErrorOr<StopMode>(mode_text.error())
                                                            : parse_stop_mode(mode_text.value());
            if (parsed.is_error())
                return respond_field_error(
                    response,
                    Error(ErrorCode::invalid_argument, "mode must be graceful, force or turnoff"),
                    "mode");
            mode = parsed.value();
        }
        result = context.host.stop_vm(params.name, mode);
        break;
    }
    case Endpoint::restart_vm:
        result = context.host.restart_vm(params.name);
        break;
    case Endpoint::suspend_vm:
        result = context.host.suspend_vm(params.name);
        break;
    case Endpoint::resume_vm:
        result = context.host.resume_vm(params.name);
        break;
    default:
        return response.set_error(500, "internal_error", "not a VM action");
    }
    if (result.is_error())
        return respond_error(response, result.error());
    respond_vm(context, params.name, response, 200);
}

} // namespace halcyon::mgmt
