// What a vswitch-sim configuration file describes, already converted into the switch library's
// own configuration types (PortConfig, acl::Rule, qos::PortQosConfig, NVGRE policy). The JSON
// schema is documented in docs/vswitch.md; load_config() does the conversion and the checking.
#pragma once

#include "vswitch/acl/acl_types.hpp"
#include "vswitch/core/port_config.hpp"
#include "vswitch/ext/port_mirror.hpp"
#include "vswitch/nvgre/network_virtualization.hpp"
#include "vswitch/qos/egress_scheduler.hpp"
#include "vswitch/qos/switch_qos.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace halcyon::vswitch::sim {

struct PortSpec {
    std::string name; // unique across the whole file
    PortConfig config;
    bool has_acl = false;
    std::vector<acl::Rule> acl;
    std::optional<qos::PortQosConfig> qos;
    MirrorMode mirror = MirrorMode::none;
};

struct SchedulerSpec {
    std::string port;
    qos::SchedulerConfig config;
};

struct AddressMacSpec {
    nvgre::NetAddress address;
    MacAddress mac;
};

struct NvgreSpec {
    nvgre::ProviderConfig provider;
    std::vector<AddressMacSpec> local_provider_addresses;
    std::vector<AddressMacSpec> provider_neighbors;
    std::vector<nvgre::VirtualSubnet> subnets;
    std::vector<nvgre::LookupRecord> records;
};

struct SwitchSpec {
    std::string name;
    SwitchType type = SwitchType::external;
    uint32_t mac_table_size = 4096; // slots, a power of two (3/4 usable)
    uint64_t mac_ageing_ns = 300ull * 1'000'000'000;
    std::vector<PortSpec> ports;
    std::optional<SchedulerSpec> egress_scheduler;
    std::optional<NvgreSpec> nvgre;
};

struct SimConfig {
    std::vector<SwitchSpec> switches;
    // Pairs of port names wired back to back (e.g. two hosts' uplinks on one provider network).
    std::vector<std::pair<std::string, std::string>> links;
};

struct ConfigResult {
    bool ok = false;
    SimConfig config;
    std::string error; // "FILE:LINE:COLUMN: PATH: message"
};

// Parses and checks a configuration. `file_name` only prefixes error messages.
[[nodiscard]] ConfigResult load_config(std::string_view text, std::string_view file_name);

} // namespace halcyon::vswitch::sim
