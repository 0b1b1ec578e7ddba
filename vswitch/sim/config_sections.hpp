// The per-section readers load_config() is built from (one function per JSON object kind), shared
// between config_ports.cpp and config_loader.cpp. Each reports its first error into the reader's
// ConfigErrors and returns false.
#pragma once

#include "vswitch/sim/config_reader.hpp"
#include "vswitch/sim/sim_config.hpp"

#include <string>

namespace halcyon::vswitch::sim {

[[nodiscard]] bool read_port(ConfigErrors& errors, const JsonValue& value, const std::string& path,
                             PortSpec& out);
[[nodiscard]] bool read_nvgre(ConfigErrors& errors, const JsonValue& value, const std::string& path,
                              NvgreSpec& out);
// "subnets" and "records" arrays, shared by a switch's "nvgre" block and the top-level "policy".
[[nodiscard]] bool read_policy_members(ObjectReader& object, NvgreSpec& out);

// Helpers for string-typed values.
[[nodiscard]] bool read_mac(ConfigErrors& errors, const JsonValue& value, const std::string& path,
                            MacAddress& out);
[[nodiscard]] bool read_net_address(ConfigErrors& errors, const JsonValue& value,
                                    const std::string& path, nvgre::NetAddress& out);

} // namespace halcyon::vswitch::sim
