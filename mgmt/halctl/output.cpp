#include "mgmt/halctl/output.hpp"

#include <algorithm>
#include <cstdio>

namespace halcyon::halctl {

std::unique_ptr<JsonBody> JsonBody::parse(const std::string& text) {
    auto body = std::make_unique<JsonBody>();
    body->text_ = text;
    body->tokens_.resize(text.size() / 2 + 16); // a token needs at least two bytes of text
    auto parsed = mgmt::JsonDocument::parse(body->text_, body->tokens_, mgmt::JsonLimits{32});
    if (parsed.is_error())
        return nullptr;
    body->document_.emplace(parsed.release_value());
    return body;
}

std::string JsonBody::string(const std::optional<mgmt::JsonValue>& value) {
    if (!value || !value->is(mgmt::JsonType::string))
        return "";
    std::string out(value->raw().size(), '\0');
    auto decoded = value->as_string(std::span(out.data(), out.size()));
    return decoded.is_error() ? "" : std::string(decoded.value());
}

uint64_t JsonBody::number(const std::optional<mgmt::JsonValue>& value) {
    if (!value)
        return 0;
    auto number = value->as_uint64();
    return number.is_error() ? 0 : number.value();
}

bool JsonBody::boolean(const std::optional<mgmt::JsonValue>& value) {
    if (!value)
        return false;
    auto flag = value->as_bool();
    return !flag.is_error() && flag.value();
}

std::string format_table(const std::vector<std::string>& headers,
                         const std::vector<std::vector<std::string>>& rows,
                         const std::vector<bool>& right_aligned) {
    std::vector<size_t> widths(headers.size());
    for (size_t c = 0; c < headers.size(); ++c) {
        widths[c] = headers[c].size();
        for (const auto& row : rows)
            widths[c] = std::max(widths[c], row[c].size());
    }
    auto line = [&](const std::vector<std::string>& cells) {
        std::string text;
        for (size_t c = 0; c < cells.size(); ++c) {
            std::string padding(widths[c] - cells[c].size(), ' ');
            bool right = c < right_aligned.size() && right_aligned[c];
            bool last = c + 1 == cells.size();
            text += right ? padding + cells[c] : cells[c] + (last ? "" : padding);
            if (!last)
                text += ' ';
        }
        return text + "\n";
    };
    std::vector<std::string> rule;
    for (const std::string& header : headers)
        rule.push_back(std::string(header.size(), '-'));
    std::string text = line(headers) + line(rule);
    for (const auto& row : rows)
        text += line(row);
    return text;
}

std::string format_list(const std::vector<std::pair<std::string, std::string>>& fields) {
    size_t width = 0;
    for (const auto& field : fields)
        width = std::max(width, field.first.size());
    std::string text;
    for (const auto& field : fields)
        text += field.first + std::string(width - field.first.size(), ' ') + " : " + field.second +
                "\n";
    return text;
}

std::string format_uptime(uint64_t milliseconds) {
    uint64_t seconds = milliseconds / 1000;
    char text[48];
    if (seconds >= 86400)
        std::snprintf(text, sizeof(text), "%llu.%02llu:%02llu:%02llu",
                      (unsigned long long)(seconds / 86400),
                      (unsigned long long)(seconds / 3600 % 24),
                      (unsigned long long)(seconds / 60 % 60), (unsigned long long)(seconds % 60));
    else
        std::snprintf(text, sizeof(text), "%02llu:%02llu:%02llu",
                      (unsigned long long)(seconds / 3600), (unsigned long long)(seconds / 60 % 60),
                      (unsigned long long)(seconds % 60));
    return text;
}

std::string format_vm_table(const std::vector<mgmt::JsonValue>& vms) {
    std::vector<std::vector<std::string>> rows;
    for (const mgmt::JsonValue& vm : vms) {
        rows.push_back({JsonBody::string(vm.member("name")), JsonBody::string(vm.member("state")),
                        std::to_string(JsonBody::number(vm.member("vcpus"))),
                        std::to_string(JsonBody::number(vm.member("memory_bytes")) >> 20),
                        format_uptime(JsonBody::number(vm.member("uptime_ms"))),
                        JsonBody::string(vm.member("kernel"))});
    }
    return format_table({"Name", "State", "CPUs", "MemoryMB", "Uptime", "Kernel"}, rows,
                        {false, false, true, true, false, false});
}

std::string format_vm_details(mgmt::JsonValue vm) {
    std::string disks;
    if (std::optional<mgmt::JsonValue> list = vm.member("disks")) {
        for (uint32_t i = 0; i < list->size(); ++i) {
            mgmt::JsonValue disk = *list->element(i);
            if (!disks.empty())
                disks += ", ";
            disks += JsonBody::string(disk.member("path"));
            if (JsonBody::boolean(disk.member("read_only")))
                disks += " (read-only)";
        }
    }
    // The integration services' view of the guest (docs/management-api.md): KVP addresses.
    std::string addresses;
    if (std::optional<mgmt::JsonValue> list = vm.member("ip_addresses")) {
        for (uint32_t i = 0; i < list->size(); ++i)
            addresses += (addresses.empty() ? "" : ", ") + JsonBody::string(list->element(i));
    }
    uint64_t memory = JsonBody::number(vm.member("memory_bytes"));
    return format_list({
        {"Name", JsonBody::string(vm.member("name"))},
        {"State", JsonBody::string(vm.member("state"))},
        {"ProcessorCount", std::to_string(JsonBody::number(vm.member("vcpus")))},
        {"MemoryStartupBytes",
         std::to_string(memory) + " (" + std::to_string(memory >> 20) + " MB)"},
        {"Kernel", JsonBody::string(vm.member("kernel"))},
        {"Initrd", JsonBody::string(vm.member("initrd"))},
        {"CommandLine", JsonBody::string(vm.member("command_line"))},
        {"Disks", disks},
        {"VMBus", JsonBody::boolean(vm.member("vmbus")) ? "True" : "False"},
        {"Uptime", format_uptime(JsonBody::number(vm.member("uptime_ms")))},
        {"Heartbeat", JsonBody::string(vm.member("heartbeat"))},
        {"ComputerName", JsonBody::string(vm.member("computer_name"))},
        {"IPAddresses", addresses},
        {"Status", JsonBody::string(vm.member("status"))},
    });
}

std::string format_host(mgmt::JsonValue host) {
    std::optional<mgmt::JsonValue> api = host.member("api");
    std::optional<mgmt::JsonValue> failures = api ? api->member("auth_failures") : std::nullopt;
    return format_list({
        {"Name", JsonBody::string(host.member("name"))},
        {"Version", JsonBody::string(host.member("version"))},
        {"LogicalProcessorCount",
         std::to_string(JsonBody::number(host.member("logical_processors")))},
        {"MemoryCapacityMB", std::to_string(JsonBody::number(host.member("memory_bytes")) >> 20)},
        {"MemoryFreeMB", std::to_string(JsonBody::number(host.member("memory_free_bytes")) >> 20)},
        {"Virtualization", JsonBody::string(host.member("virtualization"))},
        {"VMs", std::to_string(JsonBody::number(host.member("vm_count")))},
        {"Uptime", format_uptime(JsonBody::number(host.member("uptime_ms")))},
        {"ApiConnections",
         api ? std::to_string(JsonBody::number(api->member("connections"))) + " of " +
                   std::to_string(JsonBody::number(api->member("max_connections")))
             : ""},
        {"ApiRequests", api ? std::to_string(JsonBody::number(api->member("requests"))) : ""},
        {"AuthFailures",
         failures ? std::to_string(JsonBody::number(failures->member("total"))) : ""},
    });
}

} // namespace halcyon::halctl
