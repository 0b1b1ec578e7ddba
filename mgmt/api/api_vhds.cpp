// The storage and integration-service endpoints (issue #7 item 6): /v1/vhds (New-VHD, Get-VHD,
// Resize-VHD), /v1/vms/{name}/disks (Get-, Add-, Remove-VMHardDiskDrive) and
// /v1/vms/{name}/integration-services (Get-VMIntegrationService), over VhdHost.
#include "mgmt/api/api.hpp"
#include "mgmt/api/vhd_json.hpp"

namespace halcyon::mgmt {
namespace {

// "ds:/vms/a b.vhdx" -> "/v1/vhds/vms/a%20b.vhdx" (a Location header).
std::string_view vhd_location(const FilePath& path, char (&out)[4 * FilePath::kCapacity]) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    static constexpr std::string_view kPrefix = "/v1/vhds/";
    size_t length = 0;
    for (char c : kPrefix)
        out[length++] = c;
    std::string_view rest = path.view();
    rest.remove_prefix(4); // "ds:/"
    for (char c : rest) {
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
        if (plain) {
            out[length++] = c;
        } else {
            out[length++] = '%';
            out[length++] = kHex[uint8_t(c) >> 4];
            out[length++] = kHex[uint8_t(c) & 15];
        }
    }
    return std::string_view(out, length);
}

void respond_vhd(HttpResponse& response, const VhdInfo& vhd, uint16_t status) {
    response.set_status(status);
    write_vhd_json(response.json(), vhd);
}

void create_vhd(ApiContext& context, const HttpRequest& request, HttpResponse& response) {
    std::optional<JsonDocument> body = parse_json_body(context, request, response);
    if (!body)
        return;
    VhdSpec spec;
    FieldError field;
    if (auto parsed = parse_vhd_spec(body->root(), spec, field); parsed.is_error())
        return respond_field_error(response, parsed.error(), field.field);
    ErrorOr<VhdInfo> created = context.vhds->create_vhd(spec);
    if (created.is_error())
        return respond_error(response, created.error());
    char location[4 * FilePath::kCapacity];
    response.add_header("Location", vhd_location(created.value().path, location));
    respond_vhd(response, created.value(), 201);
}

void get_vhd(ApiContext& context, const RouteParams& params, HttpResponse& response) {
    FilePath path;
    if (auto checked = canonical_vhd_path(params.path, path); checked.is_error())
        return respond_error(response, checked.error());
    ErrorOr<VhdInfo> vhd = context.vhds->get_vhd(path.view());
    if (vhd.is_error())
        return respond_error(response, vhd.error());
    respond_vhd(response, vhd.value(), 200);
}

void resize_vhd(ApiContext& context, const HttpRequest& request, const RouteParams& params,
                HttpResponse& response) {
    FilePath path;
    if (auto checked = canonical_vhd_path(params.path, path); checked.is_error())
        return respond_error(response, checked.error());
    std::optional<JsonDocument> body = parse_json_body(context, request, response);
    if (!body)
        return;
    FieldError field;
    ErrorOr<uint64_t> size = parse_vhd_resize(body->root(), field);
    if (size.is_error())
        return respond_field_error(response, size.error(), field.field);
    ErrorOr<VhdInfo> resized = context.vhds->resize_vhd(path.view(), size.value());
    if (resized.is_error())
        return respond_error(response, resized.error());
    respond_vhd(response, resized.value(), 200);
}

void list_vm_disks(ApiContext& context, const RouteParams& params, HttpResponse& response) {
    VmHardDiskDrive drives[kVmDisksMax];
    ErrorOr<uint32_t> count = context.vhds->vm_disks(params.name, drives);
    if (count.is_error())
        return respond_error(response, count.error());
    JsonWriter& json = response.json();
    json.begin_object();
    json.key("disks");
    json.begin_array();
    for (uint32_t i = 0; i < count.value() && i < kVmDisksMax; ++i)
        write_vm_disk_json(json, params.name, drives[i]);
    json.end_array();
    json.end_object();
}

void add_vm_disk(ApiContext& context, const HttpRequest& request, const RouteParams& params,
                 HttpResponse& response) {
    std::optional<JsonDocument> body = parse_json_body(context, request, response);
    if (!body)
        return;
    FilePath path;
    bool read_only = false;
    FieldError field;
    if (auto parsed = parse_vm_disk(body->root(), path, read_only, field); parsed.is_error())
        return respond_field_error(response, parsed.error(), field.field);
    ErrorOr<VmHardDiskDrive> added = context.vhds->add_vm_disk(params.name, path.view(), read_only);
    if (added.is_error())
        return respond_error(response, added.error());
    response.set_status(201);
    write_vm_disk_json(response.json(), params.name, added.value());
}

void remove_vm_disk(ApiContext& context, const RouteParams& params, HttpResponse& response) {
    ErrorOr<uint32_t> lun = parse_lun(params.path);
    if (lun.is_error())
        return respond_error(response, lun.error());
    if (auto removed = context.vhds->remove_vm_disk(params.name, lun.value()); removed.is_error())
        return respond_error(response, removed.error());
    JsonWriter& json = response.json();
    json.begin_object();
    json.field("vm", params.name);
    json.field("lun", lun.value());
    json.field("removed", true);
    json.end_object();
}

void list_integration_services(ApiContext& context, const RouteParams& params,
                               HttpResponse& response) {
    IntegrationService services[kIntegrationServicesMax];
    ErrorOr<uint32_t> count = context.vhds->integration_services(params.name, services);
    if (count.is_error())
        return respond_error(response, count.error());
    JsonWriter& json = response.json();
    json.begin_object();
    json.key("services");
    json.begin_array();
    for (uint32_t i = 0; i < count.value() && i < kIntegrationServicesMax; ++i)
        write_integration_service_json(json, params.name, services[i]);
    json.end_array();
    json.end_object();
}

} // namespace

void handle_vhd_request(ApiContext& context, const HttpRequest& request, const RouteParams& params,
                        HttpResponse& response, Endpoint endpoint) {
    if (context.vhds == nullptr)
        return response.set_error(501, "not_supported",
                                  "this host serves no storage or integration-service verbs");
    const bool names_vm =
        endpoint == Endpoint::list_vm_disks || endpoint == Endpoint::add_vm_disk ||
        endpoint == Endpoint::remove_vm_disk || endpoint == Endpoint::list_integration_services;
    if (names_vm && !check_vm_name(params, response))
        return;
    switch (endpoint) {
    case Endpoint::create_vhd:
        return create_vhd(context, request, response);
    case Endpoint::get_vhd:
        return get_vhd(context, params, response);
    case Endpoint::resize_vhd:
        return resize_vhd(context, request, params, response);
    case Endpoint::list_vm_disks:
        return list_vm_disks(context, params, response);
    case Endpoint::add_vm_disk:
        return add_vm_disk(context, request, params, response);
    case Endpoint::remove_vm_disk:
        return remove_vm_disk(context, params, response);
    case Endpoint::list_integration_services:
        return list_integration_services(context, params, response);
    default:
        return response.set_error(500, "internal_error", "not a storage endpoint");
    }
}

} // namespace halcyon::mgmt
