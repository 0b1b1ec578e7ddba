#include "mgmt/halctl/vhd_verbs.hpp"

#include "mgmt/api/json_writer.hpp"
#include "mgmt/halctl/commands.hpp"
#include "mgmt/halctl/output.hpp"

#include <algorithm>
#include <ostream>

namespace halcyon::halctl {
namespace {

const ParameterSpec kPath{"Path", true, false, "the VHDX file on the datastore: ds:/PATH.vhdx"};
const ParameterSpec kSizeBytes{"SizeBytes", true, false, "virtual size, e.g. 64MB or 20GB"};
const ParameterSpec kVmName{"VMName", true, false, "the VM's name"};
const ParameterSpec kPassthru{"Passthru", false, false, "print the result"};

std::string json_string(const std::string& text) {
    std::vector<char> buffer(text.size() * 6 + 3);
    mgmt::JsonWriter writer(buffer);
    writer.string(text);
    return std::string(writer.text());
}

// A size parameter in bytes (K/M/G/T suffixes); `error` names it when it is not one.
std::optional<uint64_t> size_parameter(const Invocation& invocation, const std::string& name,
                                       std::string& error) {
    std::optional<uint64_t> bytes = parse_byte_size(invocation.value(name));
    if (!bytes)
        error = "-" + name + " must be a size like 64MB or 20GB";
    return bytes;
}

std::string yes_no(bool value) {
    return value ? "True" : "False";
}

std::vector<mgmt::JsonValue> elements(const JsonBody& body, const char* member) {
    std::vector<mgmt::JsonValue> list;
    if (auto array = body.root().member(member)) {
        for (uint32_t i = 0; i < array->size(); ++i)
            list.push_back(*array->element(i));
    }
    return list;
}

// Prints a JSON answer as is (-Json), or formatted.
int print(const Invocation& invocation, const HttpResult& result, std::ostream& out,
          std::ostream& err, std::string (*format)(const JsonBody&)) {
    if (invocation.has("Json")) {
        out << result.body << "\n";
        return kExitOk;
    }
    auto body = JsonBody::parse(result.body);
    if (!body) {
        err << "halctl: the server's answer is not JSON\n";
        return kExitConnection;
    }
    out << format(*body);
    return kExitOk;
}

std::string format_vhd_body(const JsonBody& body) {
    return format_vhd(body.root());
}

std::string format_drive_body(const JsonBody& body) {
    if (body.root().member("disks"))
        return format_drive_table(elements(body, "disks"));
    return format_drive_table({body.root()});
}

} // namespace

std::vector<VerbSpec> with_vhd_verbs(std::vector<VerbSpec> specs) {
    const std::vector<VerbSpec> verbs = {
        {Verb::new_vhd,
         "New-VHD",
         "Path",
         "Path,SizeBytes",
         "create a VHDX file on the datastore (dynamic unless -Fixed)",
         {kPath,
          kSizeBytes,
          {"Dynamic", false, false, "allocate blocks as they are written (the default)"},
          {"Fixed", false, false, "allocate every block now"},
          {"BlockSizeBytes", true, false, "VHDX block size, 1MB to 256MB (default 32MB)"},
          {"LogicalSectorSizeBytes", true, false, "512 (default) or 4096"},
          {"PhysicalSectorSizeBytes", true, false, "512 or 4096 (default)"}}},
        {Verb::get_vhd,
         "Get-VHD",
         "Path",
         "Path",
         "show a VHDX file and the VMs using it",
         {kPath}},
        {Verb::resize_vhd,
         "Resize-VHD",
         "Path",
         "Path,SizeBytes",
         "change a VHDX's virtual size (online when a running VM has it)",
         {kPath, kSizeBytes, kPassthru}},
        {Verb::get_vmharddiskdrive,
         "Get-VMHardDiskDrive",
         "VMName",
         "VMName",
         "list a VM's disks (SCSI LUNs)",
         {kVmName}},
        {Verb::add_vmharddiskdrive,
         "Add-VMHardDiskDrive",
         "VMName",
         "VMName,Path",
         "attach a VHDX to a VM (hot-add while it runs)",
         {kVmName,
          kPath,
          {"ReadOnly", false, false, "the guest may only read the disk"},
          kPassthru}},
        {Verb::remove_vmharddiskdrive,
         "Remove-VMHardDiskDrive",
         "VMName",
         "VMName,ControllerLocation",
         "detach a VM's disk (hot-remove while it runs)",
         {kVmName, {"ControllerLocation", true, false, "the disk's LUN (Get-VMHardDiskDrive)"}}},
        {Verb::get_vmintegrationservice,
         "Get-VMIntegrationService",
         "VMName",
         "VMName",
         "show a VM's integration services and their status",
         {kVmName, {"Name", true, false, "only this service (e.g. Heartbeat)"}}},
    };
    auto completion = std::find_if(specs.begin(), specs.end(), [](const VerbSpec& spec) {
        return spec.verb == Verb::completion;
    });
    specs.insert(completion, verbs.begin(), verbs.end());
    return specs;
}

std::string vhd_target(const std::string& path) {
    std::string rest = path.rfind("ds:", 0) == 0 ? path.substr(3) : path;
    rest.erase(0, rest.find_first_not_of('/'));
    return "/v1/vhds/" + percent_encode(rest, true);
}

std::string new_vhd_body(const Invocation& invocation, std::string& error) {
    if (invocation.has("Dynamic") && invocation.has("Fixed")) {
        error = "-Dynamic and -Fixed exclude each other";
        return "";
    }
    std::optional<uint64_t> size = size_parameter(invocation, "SizeBytes", error);
    if (!size)
        return "";
    std::string body = "{\"path\":" + json_string(invocation.value("Path")) +
                       ",\"size_bytes\":" + std::to_string(*size) +
                       ",\"type\":" + (invocation.has("Fixed") ? "\"fixed\"" : "\"dynamic\"");
    for (auto [parameter, member] : {std::pair{"BlockSizeBytes", "block_size_bytes"},
                                     {"LogicalSectorSizeBytes", "logical_sector_bytes"},
                                     {"PhysicalSectorSizeBytes", "physical_sector_bytes"}}) {
        if (!invocation.has(parameter))
            continue;
        std::optional<uint64_t> bytes = size_parameter(invocation, parameter, error);
        if (!bytes)
            return "";
        body += ",\"" + std::string(member) + "\":" + std::to_string(*bytes);
    }
    return body + "}";
}

std::string resize_vhd_body(const Invocation& invocation, std::string& error) {
    std::optional<uint64_t> size = size_parameter(invocation, "SizeBytes", error);
    return size ? "{\"size_bytes\":" + std::to_string(*size) + "}" : "";
}

std::string add_drive_body(const Invocation& invocation) {
    return "{\"path\":" + json_string(invocation.value("Path")) +
           ",\"read_only\":" + (invocation.has("ReadOnly") ? "true" : "false") + "}";
}

std::string format_vhd(mgmt::JsonValue vhd) {
    std::string users;
    if (auto list = vhd.member("attachments")) {
        for (uint32_t i = 0; i < list->size(); ++i) {
            mgmt::JsonValue use = *list->element(i);
            users += (users.empty() ? "" : ", ") + JsonBody::string(use.member("vm")) + " (LUN " +
                     std::to_string(JsonBody::number(use.member("lun"))) +
                     (JsonBody::boolean(use.member("read_only")) ? ", read-only" : "") +
                     (JsonBody::boolean(use.member("online")) ? ", online" : "") + ")";
        }
    }
    return format_list({
        {"Path", JsonBody::string(vhd.member("path"))},
        {"VhdFormat", "VHDX"},
        {"VhdType", JsonBody::string(vhd.member("type"))},
        {"FileSize", std::to_string(JsonBody::number(vhd.member("file_size_bytes")))},
        {"Size", std::to_string(JsonBody::number(vhd.member("size_bytes")))},
        {"LogicalSectorSize", std::to_string(JsonBody::number(vhd.member("logical_sector_bytes")))},
        {"PhysicalSectorSize",
         std::to_string(JsonBody::number(vhd.member("physical_sector_bytes")))},
        {"BlockSize", std::to_string(JsonBody::number(vhd.member("block_size_bytes")))},
        {"AllocatedBlocks", std::to_string(JsonBody::number(vhd.member("allocated_blocks"))) +
                                " of " + std::to_string(JsonBody::number(vhd.member("blocks")))},
        {"DiskIdentifier", JsonBody::string(vhd.member("disk_id"))},
        {"Attached", yes_no(JsonBody::boolean(vhd.member("attached")))},
        {"AttachedTo", users},
    });
}

std::string format_drive_table(const std::vector<mgmt::JsonValue>& drives) {
    std::vector<std::vector<std::string>> rows;
    for (const mgmt::JsonValue& drive : drives)
        rows.push_back({JsonBody::string(drive.member("vm")),
                        JsonBody::string(drive.member("controller_type")),
                        std::to_string(JsonBody::number(drive.member("lun"))),
                        JsonBody::string(drive.member("path")),
                        yes_no(JsonBody::boolean(drive.member("read_only"))),
                        yes_no(JsonBody::boolean(drive.member("online")))});
    return format_table(
        {"VMName", "ControllerType", "ControllerLocation", "Path", "ReadOnly", "Online"}, rows,
        {false, false, true, false, false, false});
}

std::string format_integration_table(const std::vector<mgmt::JsonValue>& services) {
    std::vector<std::vector<std::string>> rows;
    for (const mgmt::JsonValue& service : services)
        rows.push_back({JsonBody::string(service.member("vm")),
                        JsonBody::string(service.member("name")),
                        yes_no(JsonBody::boolean(service.member("enabled"))),
                        JsonBody::string(service.member("status")),
                        JsonBody::string(service.member("version")),
                        JsonBody::string(service.member("detail"))});
    return format_table(
        {"VMName", "Name", "Enabled", "PrimaryStatusDescription", "Version", "Detail"}, rows, {});
}

int run_vhd_command(const Invocation& invocation, HttpClient& client, std::ostream& out,
                    std::ostream& err) {
    const std::string vm = "/v1/vms/" + percent_encode(invocation.value("VMName"), false);
    const bool passthru = invocation.has("Passthru") || invocation.has("Json");
    std::string error;
    auto usage = [&]() {
        err << "halctl: " << invocation.spec->name << ": " << error << "\n";
        return int(kExitUsage);
    };
    switch (invocation.verb) {
    case Verb::new_vhd: {
        std::string body = new_vhd_body(invocation, error);
        if (!error.empty())
            return usage();
        Call made = call(invocation, client, "POST", "/v1/vhds", body, out, err);
        return made.result ? print(invocation, *made.result, out, err, format_vhd_body)
                           : made.exit_code;
    }
    case Verb::get_vhd: {
        Call got =
            call(invocation, client, "GET", vhd_target(invocation.value("Path")), "", out, err);
        return got.result ? print(invocation, *got.result, out, err, format_vhd_body)
                          : got.exit_code;
    }
    case Verb::resize_vhd: {
        std::string body = resize_vhd_body(invocation, error);
        if (!error.empty())
            return usage();
        Call resized =
            call(invocation, client, "PATCH", vhd_target(invocation.value("Path")), body, out, err);
        if (!resized.result || !passthru)
            return resized.exit_code;
        return print(invocation, *resized.result, out, err, format_vhd_body);
    }
    case Verb::get_vmharddiskdrive: {
        Call listed = call(invocation, client, "GET", vm + "/disks", "", out, err);
        return listed.result ? print(invocation, *listed.result, out, err, format_drive_body)
                             : listed.exit_code;
    }
    case Verb::add_vmharddiskdrive: {
        Call added =
            call(invocation, client, "POST", vm + "/disks", add_drive_body(invocation), out, err);
        if (!added.result || !passthru)
            return added.exit_code;
        return print(invocation, *added.result, out, err, format_drive_body);
    }
    case Verb::remove_vmharddiskdrive: {
        std::string lun = invocation.value("ControllerLocation");
        if (lun.empty() || lun.find_first_not_of("0123456789") != std::string::npos) {
            error = "-ControllerLocation must be a number (the disk's LUN)";
            return usage();
        }
        Call removed = call(invocation, client, "DELETE", vm + "/disks/" + lun, "", out, err);
        if (removed.result && invocation.has("Json"))
            out << removed.result->body << "\n";
        return removed.exit_code;
    }
    case Verb::get_vmintegrationservice: {
        Call listed = call(invocation, client, "GET", vm + "/integration-services", "", out, err);
        if (!listed.result)
            return listed.exit_code;
        if (invocation.has("Json") && !invocation.has("Name")) {
            out << listed.result->body << "\n";
            return kExitOk;
        }
        auto body = JsonBody::parse(listed.result->body);
        if (!body) {
            err << "halctl: the server's answer is not JSON\n";
            return kExitConnection;
        }
        std::vector<mgmt::JsonValue> services = elements(*body, "services");
        if (invocation.has("Name")) {
            // -Name picks one service, case-insensitive as PowerShell compares.
            std::string wanted = invocation.value("Name");
            std::erase_if(services, [&](const mgmt::JsonValue& service) {
                return !equal_ignoring_case(JsonBody::string(service.member("name")), wanted);
            });
            if (services.empty()) {
                err << "halctl: Get-VMIntegrationService: the VM has no service '" << wanted
                    << "'\n";
                return kExitNotFound;
            }
            if (invocation.has("Json")) {
                out << services.front().raw() << "\n"; // the service's object as the API sent it
                return kExitOk;
            }
        }
        out << format_integration_table(services);
        return kExitOk;
    }
    default:
        break;
    }
    return kExitUsage;
}

} // namespace halcyon::halctl
