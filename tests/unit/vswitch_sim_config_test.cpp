// vswitch-sim configuration loading: every section converts into the library's types, and every
// mistake is an error with file:line:column and the path of the offending value.
#include "vswitch/sim/sim_config.hpp"
#include "vswitch/sim/text_formats.hpp"

#include <gtest/gtest.h>

namespace {

using namespace halcyon::vswitch;
using namespace halcyon::vswitch::sim;

constexpr const char* kFull = R"({
  "switches": [{
    "name": "hostA", "type": "external", "mac_table_size": 1024, "mac_ageing_seconds": 60,
    "ports": [
      {"name": "uplink", "kind": "external",
       "vlan": {"mode": "trunk", "allowed_vlans": [10, "20-22"], "native_vlan": 1}},
      {"name": "web", "vlan": {"mode": "access", "access_vlan": 10},
       "protection": {"mac_spoofing_guard": true, "arp_guard": true, "dhcp_guard": true,
                      "router_guard": true, "macs": ["02:00:5e:10:00:01"],
                      "ipv4": ["10.0.0.1"], "ipv6": ["2001:db8::1"]},
       "storm": {"broadcast_pps": 100, "broadcast_burst": 10},
       "acl": [{"id": 7, "direction": "inbound", "action": "deny", "weight": 5,
                "remote_address": "192.168.0.0/16", "protocol": "tcp", "local_ports": "80-81"},
               {"id": 8, "action": "allow", "stateful": true, "remote_ports": 53,
                "protocol": 17, "idle_timeout_seconds": 30}],
       "qos": {"maximum_bps": 1000000, "weight": 20}, "mirror": "source"},
      {"name": "iso", "vlan": {"mode": "private", "pvlan_mode": "isolated",
                               "primary_vlan": 100, "secondary_vlan": 101}},
      {"name": "tenant", "vsid": 5001}
    ],
    "egress_scheduler": {"port": "uplink", "link_bps": 1000000000, "mode": "absolute"},
    "nvgre": {"provider_mtu": 1600, "router_mac": "02:aa:00:00:00:01",
              "local_provider_addresses": [{"address": "192.168.1.10", "mac": "02:bb:00:00:00:0a"}],
              "provider_neighbors": [{"address": "192.168.1.11", "mac": "02:bb:00:00:00:0b"}]}
  }],
  "policy": {
    "subnets": [{"vsid": 5001, "routing_domain": "{11111111-2222-3333-4444-000000000001}",
                 "gateway": "10.1.1.1"}],
    "records": [{"vsid": 5001, "customer_address": "10.1.1.2",
                 "customer_mac": "02:00:00:00:50:02", "provider_address": "192.168.1.10"}]
  }
})";

TEST(VswitchSimConfig, EverySectionConverts) {
    ConfigResult r = load_config(kFull, "full.json");
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(r.config.switches.size(), 1u);
    const SwitchSpec& sw = r.config.switches[0];
    EXPECT_EQ(sw.mac_table_size, 1024u);
    EXPECT_EQ(sw.mac_ageing_ns, 60'000'000'000u);
    ASSERT_EQ(sw.ports.size(), 4u);
    const PortConfig& uplink = sw.ports[0].config;
    EXPECT_EQ(uplink.kind, PortKind::external);
    EXPECT_EQ(uplink.vlan.mode, VlanMode::trunk);
    EXPECT_TRUE(uplink.vlan.allowed_vlans.contains(21));
    EXPECT_FALSE(uplink.vlan.allowed_vlans.contains(23));
    EXPECT_EQ(uplink.vlan.native_vlan, 1);
    const PortSpec& web = sw.ports[1];
    EXPECT_EQ(web.config.kind, PortKind::vm);
    EXPECT_TRUE(web.config.protection.mac_spoofing_guard);
    EXPECT_EQ(web.config.protection.mac_count, 1);
    EXPECT_EQ(web.config.protection.ipv4[0].value, 0x0A000001u);
    EXPECT_EQ(web.config.protection.ipv6[0].bytes[15], 1);
    EXPECT_EQ(web.config.storm.broadcast_pps, 100u);
    ASSERT_EQ(web.acl.size(), 2u);
    EXPECT_EQ(web.acl[0].direction, acl::Direction::inbound);
    EXPECT_EQ(web.acl[0].action, acl::Action::deny);
    EXPECT_EQ(web.acl[0].family, acl::AddressFamily::ipv4);
    EXPECT_EQ(web.acl[0].remote_prefix_length, 16);
    EXPECT_EQ(web.acl[0].protocol, acl::kProtocolTcp);
    EXPECT_EQ(web.acl[0].local_ports.first, 80);
    EXPECT_EQ(web.acl[0].local_ports.last, 81);
    EXPECT_EQ(web.acl[1].direction, acl::Direction::both);
    EXPECT_TRUE(web.acl[1].stateful);
    EXPECT_EQ(web.acl[1].remote_ports.first, 53);
    EXPECT_EQ(web.acl[1].protocol, 17);
    ASSERT_TRUE(web.qos.has_value());
    EXPECT_EQ(web.qos->maximum_bits_per_second, 1'000'000u);
    EXPECT_EQ(web.qos->egress_class.weight, 20u);
    EXPECT_EQ(web.mirror, MirrorMode::source);
    EXPECT_EQ(sw.ports[2].config.vlan.pvlan_mode, PvlanMode::isolated);
    EXPECT_EQ(sw.ports[2].config.vlan.secondary_vlan, 101);
    EXPECT_EQ(sw.ports[3].config.vsid, 5001u);
    ASSERT_TRUE(sw.egress_scheduler.has_value());
    EXPECT_EQ(sw.egress_scheduler->config.mode, qos::MinimumMode::absolute);
    ASSERT_TRUE(sw.nvgre.has_value());
    EXPECT_EQ(sw.nvgre->provider.mtu, 1600u);
    // The shared policy is merged into the switch's NVGRE block.
    ASSERT_EQ(sw.nvgre->subnets.size(), 1u);
    EXPECT_EQ(sw.nvgre->subnets[0].routing_domain.low, 0x4444000000000001ull);
    EXPECT_EQ(sw.nvgre->subnets[0].routing_domain.high, 0x1111111122223333ull);
    ASSERT_EQ(sw.nvgre->records.size(), 1u);
    EXPECT_EQ(sw.nvgre->records[0].provider_address, nvgre::NetAddress::v4(192, 168, 1, 10));
}

struct BadConfig {
    const char* text;
    const char* expected; // the whole "file:line:col: path: message" prefix we promise
};

TEST(VswitchSimConfig, MistakesArePinpointed) {
    const BadConfig cases[] = {
        {"{\"switches\": [}", "c.json:1:15: invalid JSON"},
        {"{\"switchs\": []}", "c.json:1:1: missing key \"switches\""},
        {"{\"switches\": [{\"name\": \"a\", \"ports\": [], \"colour\": 1}]}",
         "c.json:1:42: switches[0]: unknown key \"colour\""},
        {"{\"switches\": [{\"name\": \"a\", \"ports\": [{\"name\": \"p\", \"vlan\": {\"mode\": "
         "\"acess\"}}]}]}",
         "c.json:1:70: switches[0].ports[0].vlan.mode: unknown value \"acess\""},
        {"{\"switches\": [{\"name\": \"a\", \"ports\": [{\"name\": \"p\", \"mtu\": 100000}]}]}",
         "c.json:1:60: switches[0].ports[0].mtu: value 100000 out of range 68..9000"},
        {"{\"switches\": [{\"name\": \"a\", \"ports\": [{\"name\": \"p\"}, {\"name\": \"p\"}]}]}",
         "c.json:1:54: switches[0].ports[1]: duplicate port name \"p\""},
        {"{\"switches\": [{\"name\": \"a\", \"ports\": [{\"name\": \"p\", \"acl\": [{\"action\": "
         "\"allow\", \"remote_address\": \"10.0.0.0/33\"}]}]}]}",
         "c.json:1:99: switches[0].ports[0].acl[0].remote_address: expected an address or prefix"},
        {"{\"switches\": [{\"name\": \"a\", \"ports\": [{\"name\": \"p\"}]}], \"links\": [[\"p\", "
         "\"q\"]]}",
         "c.json:1:73: links[0]: no port named \"q\""},
        {"{\"switches\": [{\"name\": \"a\", \"mac_table_size\": 1000, \"ports\": []}]}",
         "c.json:1:47: switches[0].mac_table_size: must be a power of two"},
        {"{\"switches\": [{\"name\": \"a\", \"ports\": [{\"name\": \"p\", \"protection\": "
         "{\"macs\": [\"02:00:00:00:00\"]}}]}]}",
         "c.json:1:77: switches[0].ports[0].protection.macs[0]: expected a MAC address"},
    };
    for (const BadConfig& c : cases) {
        ConfigResult r = load_config(c.text, "c.json");
        EXPECT_FALSE(r.ok) << c.text;
        EXPECT_EQ(r.error.rfind(c.expected, 0), 0u)
            << "got:      " << r.error << "\nexpected: " << c.expected;
    }
}

TEST(VswitchSimConfig, TextFormats) {
    MacAddress mac;
    EXPECT_TRUE(parse_mac("02-00-5E-10-00-FF", mac));
    EXPECT_EQ(mac.bytes[5], 0xFF);
    EXPECT_EQ(format_mac(mac), "02:00:5e:10:00:ff");
    EXPECT_FALSE(parse_mac("02:00-5e:10:00:ff", mac));
    Ipv4Address v4;
    EXPECT_TRUE(parse_ipv4("192.168.1.255", v4));
    EXPECT_EQ(v4.value, 0xC0A801FFu);
    EXPECT_FALSE(parse_ipv4("192.168.1", v4));
    EXPECT_FALSE(parse_ipv4("192.168.1.256", v4));
    EXPECT_FALSE(parse_ipv4("192.168.01.1", v4));
    EXPECT_FALSE(parse_ipv4("1.2.3.4.5", v4));
    acl::AddressFamily family;
    acl::IpAddress address;
    uint8_t length;
    EXPECT_TRUE(parse_prefix("2001:db8::/32", family, address, length));
    EXPECT_EQ(family, acl::AddressFamily::ipv6);
    EXPECT_EQ(length, 32);
    EXPECT_EQ(address.high, 0x20010db800000000ull);
    EXPECT_TRUE(parse_prefix("10.1.2.3", family, address, length));
    EXPECT_EQ(length, 32);
    nvgre::RoutingDomainId domain;
    EXPECT_TRUE(parse_guid("11111111-2222-3333-4444-555555555555", domain));
    EXPECT_EQ(domain.low, 0x4444555555555555ull);
    EXPECT_FALSE(parse_guid("{11111111-2222-3333-4444-55555555555}", domain));
    uint32_t first, last;
    EXPECT_TRUE(parse_range("10-20", 4094, first, last));
    EXPECT_FALSE(parse_range("20-10", 4094, first, last));
    EXPECT_FALSE(parse_range("70000", 65535, first, last));
}

} // namespace
