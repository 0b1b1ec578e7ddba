#include "mgmt/halctl/settings.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace halcyon::halctl {
namespace {

std::string trim(const std::string& text) {
    size_t first = text.find_first_not_of(" \t\r");
    if (first == std::string::npos)
        return "";
    size_t last = text.find_last_not_of(" \t\r");
    return text.substr(first, last - first + 1);
}

std::map<std::string, std::string> parse_config(const std::string& text) {
    std::map<std::string, std::string> values;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        line = trim(line.substr(0, line.find('#')));
        size_t equals = line.find('=');
        if (equals == std::string::npos)
            continue;
        values[trim(line.substr(0, equals))] = trim(line.substr(equals + 1));
    }
    return values;
}

bool parse_port(const std::string& text, int& port) {
    if (text.empty() || text.size() > 5 ||
        text.find_first_not_of("0123456789") != std::string::npos)
        return false;
    port = std::atoi(text.c_str());
    return port >= 1 && port <= 65535;
}

} // namespace

std::optional<Endpoint> parse_endpoint(const std::string& text) {
    Endpoint endpoint;
    if (text.empty())
        return std::nullopt;
    if (text[0] == '[') {
        size_t close = text.find(']');
        if (close == std::string::npos || close == 1)
            return std::nullopt;
        endpoint.host = text.substr(1, close - 1);
        std::string rest = text.substr(close + 1);
        if (!rest.empty() && (rest[0] != ':' || !parse_port(rest.substr(1), endpoint.port)))
            return std::nullopt;
        return endpoint;
    }
    size_t colon = text.find(':');
    if (colon != std::string::npos && text.find(':', colon + 1) == std::string::npos) {
        endpoint.host = text.substr(0, colon);
        if (endpoint.host.empty() || !parse_port(text.substr(colon + 1), endpoint.port))
            return std::nullopt;
        return endpoint;
    }
    endpoint.host = text; // a name, an IPv4 address, or a bare IPv6 address
    return endpoint;
}

SettingsResult resolve_settings(const Invocation& invocation,
                                const std::map<std::string, std::string>& environment,
                                const std::string& config_text) {
    SettingsResult result;
    std::map<std::string, std::string> config = parse_config(config_text);
    auto pick = [&](std::initializer_list<const char*> options, const char* variable,
                    const char* config_key) -> std::string {
        for (const char* option : options) {
            if (invocation.values.count(option))
                return invocation.value(option);
        }
        if (auto found = environment.find(variable);
            found != environment.end() && !found->second.empty())
            return found->second;
        if (auto found = config.find(config_key); found != config.end())
            return found->second;
        return "";
    };
    std::string host = pick({"Host", "ComputerName"}, "HALCYON_HOST", "host");
    std::string key = pick({"Key"}, "HALCYON_KEY", "key");
    if (host.empty()) {
        result.error = "no server given: use --host HOST[:PORT], HALCYON_HOST or "
                       "~/.config/halctl/config";
        return result;
    }
    if (key.empty()) {
        result.error = "no host key given: use --key HEX, HALCYON_KEY or ~/.config/halctl/config";
        return result;
    }
    Settings settings;
    std::optional<Endpoint> endpoint = parse_endpoint(host);
    if (!endpoint) {
        result.error = "invalid host '" + host + "' (expected HOST[:PORT])";
        return result;
    }
    settings.endpoint = *endpoint;
    auto parsed_key = mgmt::HostKey::from_hex(key);
    if (parsed_key.is_error()) {
        result.error = "invalid host key: must be exactly 64 hex digits";
        return result;
    }
    settings.key = parsed_key.value();
    if (invocation.values.count("Timeout")) {
        std::string timeout = invocation.value("Timeout");
        if (timeout.empty() || timeout.size() > 4 ||
            timeout.find_first_not_of("0123456789") != std::string::npos ||
            std::atoi(timeout.c_str()) == 0) {
            result.error = "-Timeout must be a number of seconds (1-9999)";
            return result;
        }
        settings.timeout_seconds = std::atoi(timeout.c_str());
    }
    result.settings = settings;
    return result;
}

std::map<std::string, std::string> read_environment() {
    std::map<std::string, std::string> environment;
    for (const char* name : {"HALCYON_HOST", "HALCYON_KEY", "HOME", "XDG_CONFIG_HOME"}) {
        if (const char* value = std::getenv(name))
            environment[name] = value;
    }
    return environment;
}

std::string read_config_file(const std::map<std::string, std::string>& environment) {
    std::string directory;
    if (auto xdg = environment.find("XDG_CONFIG_HOME");
        xdg != environment.end() && !xdg->second.empty())
        directory = xdg->second;
    else if (auto home = environment.find("HOME"); home != environment.end())
        directory = home->second + "/.config";
    else
        return "";
    std::ifstream file(directory + "/halctl/config");
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

} // namespace halcyon::halctl
