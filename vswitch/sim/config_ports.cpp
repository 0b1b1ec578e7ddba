// Reading one port of a vswitch-sim configuration: kind, VLAN/PVLAN mode, protection, storm
// limits, ACL rules, QoS and mirroring.
#include "vswitch/sim/config_sections.hpp"
#include "vswitch/sim/text_formats.hpp"

namespace halcyon::vswitch::sim {

namespace {

[[nodiscard]] std::string item_path(const std::string& path, size_t index) {
    return path + "[" + std::to_string(index) + "]";
}

[[nodiscard]] const JsonValue* array_member(ObjectReader& object, std::string_view key) {
    const JsonValue* v = object.get(key);
    if (v && !expect_kind(object.errors(), *v, object.child_path(key), JsonValue::Kind::array))
        return nullptr;
    return v;
}

// A VLAN list: numbers and "first-last" strings.
[[nodiscard]] bool read_vlan_set(ObjectReader& object, std::string_view key, VlanSet& out) {
    const JsonValue* list = object.get(key);
    if (!list)
        return true;
    const std::string path = object.child_path(key);
    if (!expect_kind(object.errors(), *list, path, JsonValue::Kind::array))
        return false;
    for (size_t i = 0; i < list->items.size(); ++i) {
        const JsonValue& item = list->items[i];
        if (item.kind == JsonValue::Kind::string) {
            uint32_t first, last;
            if (!parse_range(item.text, 4094, first, last) || first == 0)
                return object.errors().fail(item, item_path(path, i),
                                            "expected a VLAN range like \"10-20\" within 1..4094");
            out.add_range(static_cast<uint16_t>(first), static_cast<uint16_t>(last));
        } else {
            uint64_t vlan;
            if (!read_unsigned(object.errors(), item, item_path(path, i), 1, 4094, vlan))
                return false;
            out.add(static_cast<uint16_t>(vlan));
        }
    }
    return true;
}

[[nodiscard]] bool read_vlan(ConfigErrors& errors, const JsonValue& value, const std::string& path,
                             VlanConfig& out) {
    ObjectReader object(errors, value, path);
    uint32_t mode = 0, pvlan_mode = 0;
    if (!object.choice("mode", {"access", "trunk", "private"}, mode))
        return false;
    out.mode = static_cast<VlanMode>(mode);
    bool ok = object.integer("access_vlan", 0, 4094, out.access_vlan) &&
              read_vlan_set(object, "allowed_vlans", out.allowed_vlans) &&
              object.integer("native_vlan", 0, 4094, out.native_vlan) &&
              object.choice("pvlan_mode", {"isolated", "community", "promiscuous"}, pvlan_mode) &&
              object.integer("primary_vlan", 0, 4094, out.primary_vlan) &&
              object.integer("secondary_vlan", 0, 4094, out.secondary_vlan) &&
              read_vlan_set(object, "promiscuous_secondaries", out.promiscuous_secondaries);
    out.pvlan_mode = static_cast<PvlanMode>(pvlan_mode);
    return ok && object.finish();
}

[[nodiscard]] bool read_protection(ConfigErrors& errors, const JsonValue& value,
                                   const std::string& path, ProtectionConfig& out) {
    ObjectReader object(errors, value, path);
    if (!(object.boolean("mac_spoofing_guard", out.mac_spoofing_guard) &&
          object.boolean("arp_guard", out.arp_guard) && object.boolean("nd_guard", out.nd_guard) &&
          object.boolean("dhcp_guard", out.dhcp_guard) &&
          object.boolean("router_guard", out.router_guard)))
        return false;
    if (const JsonValue* macs = array_member(object, "macs")) {
        const std::string list_path = object.child_path("macs");
        if (macs->items.size() > kMaxPortMacs)
            return errors.fail(*macs, list_path, "at most 4 MAC addresses per port");
        for (size_t i = 0; i < macs->items.size(); ++i)
            if (!read_mac(errors, macs->items[i], item_path(list_path, i), out.macs[i]))
                return false;
        out.mac_count = static_cast<uint8_t>(macs->items.size());
    }
    if (const JsonValue* list = array_member(object, "ipv4")) {
        const std::string list_path = object.child_path("ipv4");
        if (list->items.size() > kMaxPortIpv4)
            return errors.fail(*list, list_path, "at most 8 IPv4 addresses per port");
        for (size_t i = 0; i < list->items.size(); ++i) {
            const JsonValue& item = list->items[i];
            if (item.kind != JsonValue::Kind::string || !parse_ipv4(item.text, out.ipv4[i]))
                return errors.fail(item, item_path(list_path, i), "expected an IPv4 address");
        }
        out.ipv4_count = static_cast<uint8_t>(list->items.size());
    }
    if (const JsonValue* list = array_member(object, "ipv6")) {
        const std::string list_path = object.child_path("ipv6");
        if (list->items.size() > kMaxPortIpv6)
            return errors.fail(*list, list_path, "at most 8 IPv6 addresses per port");
        for (size_t i = 0; i < list->items.size(); ++i) {
            const JsonValue& item = list->items[i];
            if (item.kind != JsonValue::Kind::string || !parse_ipv6(item.text, out.ipv6[i]))
                return errors.fail(item, item_path(list_path, i), "expected an IPv6 address");
        }
        out.ipv6_count = static_cast<uint8_t>(list->items.size());
    }
    return !errors.failed() && object.finish();
}

[[nodiscard]] bool read_storm(ConfigErrors& errors, const JsonValue& value, const std::string& path,
                              StormConfig& out) {
    ObjectReader object(errors, value, path);
    constexpr uint64_t kMax = 0xFFFFFFFF;
    return object.integer("broadcast_pps", 0, kMax, out.broadcast_pps) &&
           object.integer("broadcast_burst", 0, kMax, out.broadcast_burst) &&
           object.integer("multicast_pps", 0, kMax, out.multicast_pps) &&
           object.integer("multicast_burst", 0, kMax, out.multicast_burst) && object.finish();
}

[[nodiscard]] bool read_port_range(ObjectReader& object, std::string_view key,
                                   acl::PortRange& out) {
    const JsonValue* v = object.get(key);
    if (!v)
        return true;
    uint32_t first, last;
    if (v->kind == JsonValue::Kind::number) {
        uint64_t port;
        if (!read_unsigned(object.errors(), *v, object.child_path(key), 0, 65535, port))
            return false;
        first = last = static_cast<uint32_t>(port);
    } else if (v->kind != JsonValue::Kind::string || !parse_range(v->text, 65535, first, last)) {
        return object.errors().fail(*v, object.child_path(key),
                                    "expected a port or a range like \"1000-2000\"");
    }
    out = {static_cast<uint16_t>(first), static_cast<uint16_t>(last)};
    return true;
}

[[nodiscard]] bool read_address_match(ObjectReader& object, std::string_view key, acl::Rule& rule,
                                      acl::IpAddress& address, uint8_t& prefix_length) {
    const JsonValue* v = object.get(key);
    if (!v)
        return true;
    acl::AddressFamily family;
    if (v->kind != JsonValue::Kind::string ||
        !parse_prefix(v->text, family, address, prefix_length))
        return object.errors().fail(*v, object.child_path(key),
                                    "expected an address or prefix like \"10.0.0.0/24\"");
    if (rule.family != acl::AddressFamily::any && rule.family != family)
        return object.errors().fail(*v, object.child_path(key),
                                    "local and remote addresses of a rule must be one family");
    rule.family = family;
    return true;
}

[[nodiscard]] bool read_rule(ConfigErrors& errors, const JsonValue& value, const std::string& path,
                             acl::Rule& rule) {
    ObjectReader object(errors, value, path);
    uint32_t direction = 2, action = 0;
    if (!(object.integer("id", 0, 0xFFFFFFFF, rule.id) &&
          object.choice("direction", {"inbound", "outbound", "both"}, direction) &&
          object.choice("action", {"allow", "deny", "meter"}, action) &&
          object.integer("weight", 0, 0xFFFFFFFF, rule.weight)))
        return false;
    rule.direction = static_cast<acl::Direction>(direction + 1);
    rule.action = static_cast<acl::Action>(action);
    if (const JsonValue* mac = object.get("local_mac")) {
        rule.match_local_mac = true;
        if (!read_mac(errors, *mac, object.child_path("local_mac"), rule.local_mac))
            return false;
    }
    if (const JsonValue* mac = object.get("remote_mac")) {
        rule.match_remote_mac = true;
        if (!read_mac(errors, *mac, object.child_path("remote_mac"), rule.remote_mac))
            return false;
    }
    uint32_t family = 0;
    if (!object.choice("family", {"any", "ipv4", "ipv6"}, family))
        return false;
    rule.family = family == 0   ? acl::AddressFamily::any
                  : family == 1 ? acl::AddressFamily::ipv4
                                : acl::AddressFamily::ipv6;
    if (!read_address_match(object, "local_address", rule, rule.local_address,
                            rule.local_prefix_length) ||
        !read_address_match(object, "remote_address", rule, rule.remote_address,
                            rule.remote_prefix_length))
        return false;
    if (const JsonValue* protocol = object.get("protocol")) {
        rule.match_protocol = true;
        const std::string protocol_path = object.child_path("protocol");
        if (protocol->kind == JsonValue::Kind::string) {
            const std::string& name = protocol->text;
            if (name == "tcp")
                rule.protocol = acl::kProtocolTcp;
            else if (name == "udp")
                rule.protocol = acl::kProtocolUdp;
            else if (name == "icmp")
                rule.protocol = acl::kProtocolIcmp;
            else if (name == "icmpv6")
                rule.protocol = acl::kProtocolIcmpV6;
            else
                return errors.fail(*protocol, protocol_path,
                                   "unknown protocol \"" + name +
                                       "\" (tcp, udp, icmp, icmpv6 or a number)");
        } else {
            uint64_t number;
            if (!read_unsigned(errors, *protocol, protocol_path, 0, 255, number))
                return false;
            rule.protocol = static_cast<uint8_t>(number);
        }
    }
    return read_port_range(object, "local_ports", rule.local_ports) &&
           read_port_range(object, "remote_ports", rule.remote_ports) &&
           object.boolean("stateful", rule.stateful) &&
           object.integer("idle_timeout_seconds", 1, 86400 * 7, rule.idle_timeout_seconds) &&
           object.finish();
}

[[nodiscard]] bool read_qos(ConfigErrors& errors, const JsonValue& value, const std::string& path,
                            qos::PortQosConfig& out) {
    ObjectReader object(errors, value, path);
    constexpr uint64_t kMax = 1'000'000'000'000ull; // 1 Tbit/s
    return object.unsigned_integer("maximum_bps", 0, kMax, out.maximum_bits_per_second) &&
           object.unsigned_integer("maximum_burst_bytes", 0, kMax, out.maximum_burst_bytes) &&
           object.unsigned_integer("egress_maximum_bps", 0, kMax,
                                   out.egress_class.maximum_bits_per_second) &&
           object.unsigned_integer("minimum_bps", 0, kMax,
                                   out.egress_class.minimum_bits_per_second) &&
           object.integer("weight", 0, 100, out.egress_class.weight) && object.finish();
}

} // namespace

bool read_mac(ConfigErrors& errors, const JsonValue& value, const std::string& path,
              MacAddress& out) {
    if (value.kind != JsonValue::Kind::string || !parse_mac(value.text, out))
        return errors.fail(value, path, "expected a MAC address like \"02:00:5e:10:00:01\"");
    return true;
}

bool read_net_address(ConfigErrors& errors, const JsonValue& value, const std::string& path,
                      nvgre::NetAddress& out) {
    if (value.kind != JsonValue::Kind::string || !parse_net_address(value.text, out))
        return errors.fail(value, path, "expected an IPv4 or IPv6 address");
    return true;
}

bool read_port(ConfigErrors& errors, const JsonValue& value, const std::string& path,
               PortSpec& out) {
    ObjectReader object(errors, value, path);
    if (!object.valid())
        return false;
    const JsonValue* name = object.require("name");
    if (!name || !expect_kind(errors, *name, object.child_path("name"), JsonValue::Kind::string))
        return false;
    if (name->text.empty() || name->text.find_first_of("/\\=") != std::string::npos ||
        name->text[0] == '.')
        return errors.fail(*name, object.child_path("name"),
                           "port names must be non-empty and contain no '/', '\\' or '='");
    out.name = name->text;
    uint32_t kind = 2, mirror = 0;
    if (!(object.choice("kind", {"external", "internal", "vm"}, kind) &&
          object.boolean("enabled", out.config.enabled) &&
          object.integer("mtu", 68, 9000, out.config.mtu) &&
          object.integer("vsid", 0, 0xFFFFFE, out.config.vsid) &&
          object.choice("mirror", {"none", "source", "destination"}, mirror)))
        return false;
    out.config.kind = static_cast<PortKind>(kind);
    out.mirror = static_cast<MirrorMode>(mirror);
    if (const JsonValue* v = object.get("vlan"))
        if (!read_vlan(errors, *v, object.child_path("vlan"), out.config.vlan))
            return false;
    if (const JsonValue* v = object.get("protection"))
        if (!read_protection(errors, *v, object.child_path("protection"), out.config.protection))
            return false;
    if (const JsonValue* v = object.get("storm"))
        if (!read_storm(errors, *v, object.child_path("storm"), out.config.storm))
            return false;
    if (const JsonValue* rules = array_member(object, "acl")) {
        out.has_acl = true;
        const std::string acl_path = object.child_path("acl");
        for (size_t i = 0; i < rules->items.size(); ++i) {
            acl::Rule rule;
            if (!read_rule(errors, rules->items[i], item_path(acl_path, i), rule))
                return false;
            out.acl.push_back(rule);
        }
    }
    if (errors.failed())
        return false;
    if (const JsonValue* v = object.get("qos")) {
        qos::PortQosConfig config;
        if (!read_qos(errors, *v, object.child_path("qos"), config))
            return false;
        out.qos = config;
    }
    return object.finish();
}

} // namespace halcyon::vswitch::sim
