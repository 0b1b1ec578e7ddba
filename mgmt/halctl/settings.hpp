// Where halctl finds the server and the key, first match wins:
//   1. --host / -ComputerName and --key on the command line
//   2. the environment: HALCYON_HOST, HALCYON_KEY
//   3. the config file: $XDG_CONFIG_HOME/halctl/config or ~/.config/halctl/config, lines
//      "host = HOST[:PORT]" and "key = HEX" ('#' starts a comment)
#pragma once

#include "mgmt/api/auth.hpp"
#include "mgmt/halctl/arguments.hpp"

#include <map>
#include <optional>
#include <string>

namespace halcyon::halctl {

inline constexpr int kDefaultPort = 8443;

struct Endpoint {
    std::string host; // name or address (IPv6 without brackets)
    int port = kDefaultPort;
};

struct Settings {
    Endpoint endpoint;
    mgmt::HostKey key;
    int timeout_seconds = 10;
};

struct SettingsResult {
    std::optional<Settings> settings;
    std::string error;
};

// `environment` and `config_text` are passed in so tests need no real environment.
[[nodiscard]] SettingsResult resolve_settings(const Invocation& invocation,
                                              const std::map<std::string, std::string>& environment,
                                              const std::string& config_text);

// "host", "host:8443", "10.0.0.5:80", "[fe80::1]:8443", "fe80::1" (no port).
[[nodiscard]] std::optional<Endpoint> parse_endpoint(const std::string& text);

// Reads the variables and config file halctl uses from the real environment.
[[nodiscard]] std::map<std::string, std::string> read_environment();
[[nodiscard]] std::string read_config_file(const std::map<std::string, std::string>& environment);

} // namespace halcyon::halctl
