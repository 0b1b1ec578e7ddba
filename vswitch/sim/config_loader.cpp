// load_config(): the top level of a vswitch-sim configuration (switches, the shared NVGRE policy,
// links) and the checks that span sections (unique port names, links and schedulers naming real
// ports).
#include "vswitch/sim/config_sections.hpp"
#include "vswitch/sim/text_formats.hpp"

#include <set>

namespace halcyon::vswitch::sim {

namespace {

[[nodiscard]] std::string item_path(const std::string& path, size_t index) {
    return path + "[" + std::to_string(index) + "]";
}

[[nodiscard]] bool read_address_macs(ObjectReader& object, std::string_view key,
                                     std::vector<AddressMacSpec>& out) {
    const JsonValue* list = object.get(key);
    if (!list)
        return true;
    const std::string path = object.child_path(key);
    if (!expect_kind(object.errors(), *list, path, JsonValue::Kind::array))
        return false;
    for (size_t i = 0; i < list->items.size(); ++i) {
        ObjectReader item(object.errors(), list->items[i], item_path(path, i));
        const JsonValue* address = item.require("address");
        const JsonValue* mac = item.require("mac");
        AddressMacSpec spec;
        if (!address || !mac ||
            !read_net_address(object.errors(), *address, item.child_path("address"),
                              spec.address) ||
            !read_mac(object.errors(), *mac, item.child_path("mac"), spec.mac) || !item.finish())
            return false;
        out.push_back(spec);
    }
    return true;
}

[[nodiscard]] bool read_scheduler(ConfigErrors& errors, const JsonValue& value,
                                  const std::string& path, SchedulerSpec& out) {
    ObjectReader object(errors, value, path);
    const JsonValue* port = object.require("port");
    if (!port || !expect_kind(errors, *port, object.child_path("port"), JsonValue::Kind::string))
        return false;
    out.port = port->text;
    uint32_t mode = 1;
    constexpr uint64_t kMax = 1'000'000'000'000ull;
    if (!(object.unsigned_integer("link_bps", 1000, kMax, out.config.link_bits_per_second) &&
          object.choice("mode", {"absolute", "weight"}, mode) &&
          object.unsigned_integer("link_burst_bytes", 64, 1u << 30, out.config.link_burst_bytes)))
        return false;
    out.config.mode = static_cast<qos::MinimumMode>(mode);
    return object.finish();
}

[[nodiscard]] bool read_switch(ConfigErrors& errors, const JsonValue& value,
                               const std::string& path, SwitchSpec& out) {
    ObjectReader object(errors, value, path);
    if (!object.valid())
        return false;
    const JsonValue* name = object.require("name");
    if (!name || !expect_kind(errors, *name, object.child_path("name"), JsonValue::Kind::string))
        return false;
    out.name = name->text;
    uint32_t type = 0;
    uint64_t ageing_seconds = out.mac_ageing_ns / 1'000'000'000;
    if (!(object.choice("type", {"external", "internal", "private"}, type) &&
          object.integer("mac_table_size", 8, 1u << 20, out.mac_table_size) &&
          object.unsigned_integer("mac_ageing_seconds", 0, 1'000'000, ageing_seconds)))
        return false;
    if ((out.mac_table_size & (out.mac_table_size - 1)) != 0)
        return errors.fail(*object.get("mac_table_size"), object.child_path("mac_table_size"),
                           "must be a power of two");
    out.type = static_cast<SwitchType>(type);
    out.mac_ageing_ns = ageing_seconds * 1'000'000'000;
    const JsonValue* ports = object.require("ports");
    if (!ports || !expect_kind(errors, *ports, object.child_path("ports"), JsonValue::Kind::array))
        return false;
    if (ports->items.size() > kMaxPorts)
        return errors.fail(*ports, object.child_path("ports"), "at most 64 ports per switch");
    for (size_t i = 0; i < ports->items.size(); ++i) {
        PortSpec port;
        if (!read_port(errors, ports->items[i], item_path(object.child_path("ports"), i), port))
            return false;
        out.ports.push_back(std::move(port));
    }
    if (const JsonValue* v = object.get("egress_scheduler")) {
        SchedulerSpec scheduler;
        if (!read_scheduler(errors, *v, object.child_path("egress_scheduler"), scheduler))
            return false;
        bool found = false;
        for (const PortSpec& port : out.ports)
            found = found || port.name == scheduler.port;
        if (!found)
            return errors.fail(*v, object.child_path("egress_scheduler.port"),
                               "no port \"" + scheduler.port + "\" on this switch");
        out.egress_scheduler = scheduler;
    }
    if (const JsonValue* v = object.get("nvgre")) {
        NvgreSpec nvgre;
        if (!read_nvgre(errors, *v, object.child_path("nvgre"), nvgre))
            return false;
        out.nvgre = std::move(nvgre);
    }
    return object.finish();
}

} // namespace

bool read_policy_members(ObjectReader& object, NvgreSpec& out) {
    ConfigErrors& errors = object.errors();
    if (const JsonValue* subnets = object.get("subnets")) {
        const std::string path = object.child_path("subnets");
        if (!expect_kind(errors, *subnets, path, JsonValue::Kind::array))
            return false;
        for (size_t i = 0; i < subnets->items.size(); ++i) {
            ObjectReader item(errors, subnets->items[i], item_path(path, i));
            nvgre::VirtualSubnet subnet;
            const JsonValue* domain = item.require("routing_domain");
            if (!item.integer("vsid", nvgre::kFirstVsid, nvgre::kLastVsid, subnet.vsid))
                return false;
            if (!item.get("vsid") && item.valid())
                return errors.fail(subnets->items[i], item.path(), "missing key \"vsid\"");
            if (!domain)
                return false;
            if (domain->kind != JsonValue::Kind::string ||
                !parse_guid(domain->text, subnet.routing_domain))
                return errors.fail(
                    *domain, item.child_path("routing_domain"),
                    "expected a GUID like \"{11111111-2222-3333-4444-000000000000}\"");
            if (const JsonValue* gateway = item.get("gateway")) {
                if (!read_net_address(errors, *gateway, item.child_path("gateway"),
                                      subnet.gateway_address))
                    return false;
                subnet.has_gateway = true;
            }
            if (!item.finish())
                return false;
            out.subnets.push_back(subnet);
        }
    }
    if (const JsonValue* records = object.get("records")) {
        const std::string path = object.child_path("records");
        if (!expect_kind(errors, *records, path, JsonValue::Kind::array))
            return false;
        for (size_t i = 0; i < records->items.size(); ++i) {
            ObjectReader item(errors, records->items[i], item_path(path, i));
            nvgre::LookupRecord record;
            const JsonValue* vsid = item.require("vsid");
            const JsonValue* ca = item.require("customer_address");
            const JsonValue* mac = item.require("customer_mac");
            const JsonValue* pa = item.require("provider_address");
            if (!vsid || !ca || !mac || !pa)
                return false;
            uint64_t vsid_value;
            if (!read_unsigned(errors, *vsid, item.child_path("vsid"), nvgre::kFirstVsid,
                               nvgre::kLastVsid, vsid_value) ||
                !read_net_address(errors, *ca, item.child_path("customer_address"),
                                  record.customer_address) ||
                !read_mac(errors, *mac, item.child_path("customer_mac"), record.customer_mac) ||
                !read_net_address(errors, *pa, item.child_path("provider_address"),
                                  record.provider_address))
                return false;
            record.vsid = static_cast<nvgre::Vsid>(vsid_value);
            // The routing domain defaults to the one of the record's subnet (resolved when the
            // switch is built, once every subnet is known): high = low = 0 marks "not given".
            if (const JsonValue* domain = item.get("routing_domain")) {
                if (domain->kind != JsonValue::Kind::string ||
                    !parse_guid(domain->text, record.routing_domain))
                    return errors.fail(
                        *domain, item.child_path("routing_domain"),
                        "expected a GUID like \"{11111111-2222-3333-4444-000000000000}\"");
            }
            if (!item.finish())
                return false;
            out.records.push_back(record);
        }
    }
    return !errors.failed();
}

bool read_nvgre(ConfigErrors& errors, const JsonValue& value, const std::string& path,
                NvgreSpec& out) {
    ObjectReader object(errors, value, path);
    if (!object.valid())
        return false;
    if (!(object.integer("provider_vlan", 0, 4094, out.provider.vlan_id) &&
          object.integer("provider_mtu", 576, 9000, out.provider.mtu) &&
          object.integer("ttl", 1, 255, out.provider.ttl)))
        return false;
    if (const JsonValue* mac = object.get("router_mac"))
        if (!read_mac(errors, *mac, object.child_path("router_mac"), out.provider.router_mac))
            return false;
    if (const JsonValue* mac = object.get("default_next_hop_mac")) {
        if (!read_mac(errors, *mac, object.child_path("default_next_hop_mac"),
                      out.provider.default_next_hop_mac))
            return false;
        out.provider.has_default_next_hop = true;
    }
    return read_address_macs(object, "local_provider_addresses", out.local_provider_addresses) &&
           read_address_macs(object, "provider_neighbors", out.provider_neighbors) &&
           read_policy_members(object, out) && object.finish();
}

ConfigResult load_config(std::string_view text, std::string_view file_name) {
    ConfigResult result;
    JsonParseResult json = parse_json(text);
    if (!json.ok) {
        result.error = std::string(file_name) + ":" + std::to_string(json.line) + ":" +
                       std::to_string(json.column) + ": invalid JSON: " + json.error;
        return result;
    }
    ConfigErrors errors(file_name);
    ObjectReader root(errors, json.value, "");
    auto failed = [&] {
        result.error = errors.message();
        return result;
    };
    if (!root.valid())
        return failed();
    const JsonValue* switches = root.require("switches");
    if (!switches || !expect_kind(errors, *switches, "switches", JsonValue::Kind::array))
        return failed();
    if (switches->items.empty()) {
        errors.fail(*switches, "switches", "at least one switch is needed");
        return failed();
    }
    std::set<std::string> port_names, switch_names;
    for (size_t i = 0; i < switches->items.size(); ++i) {
        SwitchSpec spec;
        const std::string path = item_path("switches", i);
        if (!read_switch(errors, switches->items[i], path, spec))
            return failed();
        if (!switch_names.insert(spec.name).second) {
            errors.fail(switches->items[i], path, "duplicate switch name \"" + spec.name + "\"");
            return failed();
        }
        for (size_t p = 0; p < spec.ports.size(); ++p) {
            if (!port_names.insert(spec.ports[p].name).second) {
                errors.fail(switches->items[i].find("ports")->items[p],
                            path + ".ports[" + std::to_string(p) + "]",
                            "duplicate port name \"" + spec.ports[p].name +
                                "\" (port names are unique across all switches)");
                return failed();
            }
        }
        result.config.switches.push_back(std::move(spec));
    }
    // The shared lookup policy (HNV distributes the same records to every host).
    if (const JsonValue* policy = root.get("policy")) {
        ObjectReader object(errors, *policy, "policy");
        NvgreSpec shared;
        if (!read_policy_members(object, shared) || !object.finish())
            return failed();
        for (SwitchSpec& spec : result.config.switches) {
            if (!spec.nvgre)
                continue;
            spec.nvgre->subnets.insert(spec.nvgre->subnets.end(), shared.subnets.begin(),
                                       shared.subnets.end());
            spec.nvgre->records.insert(spec.nvgre->records.end(), shared.records.begin(),
                                       shared.records.end());
        }
    }
    if (const JsonValue* links = root.get("links")) {
        if (!expect_kind(errors, *links, "links", JsonValue::Kind::array))
            return failed();
        std::set<std::string> linked;
        for (size_t i = 0; i < links->items.size(); ++i) {
            const JsonValue& link = links->items[i];
            const std::string path = item_path("links", i);
            if (link.kind != JsonValue::Kind::array || link.items.size() != 2 ||
                link.items[0].kind != JsonValue::Kind::string ||
                link.items[1].kind != JsonValue::Kind::string) {
                errors.fail(link, path, "a link is a pair of port names [\"a\", \"b\"]");
                return failed();
            }
            for (const JsonValue& end : link.items) {
                if (!port_names.count(end.text)) {
                    errors.fail(end, path, "no port named \"" + end.text + "\"");
                    return failed();
                }
                if (!linked.insert(end.text).second) {
                    errors.fail(end, path, "port \"" + end.text + "\" is linked twice");
                    return failed();
                }
            }
            result.config.links.emplace_back(link.items[0].text, link.items[1].text);
        }
    }
    if (!root.finish())
        return failed();
    result.ok = true;
    return result;
}

} // namespace halcyon::vswitch::sim
