// halctl: the remote console of a Halcyon host. See `halctl help` and docs/management-api.md.
#include "mgmt/halctl/commands.hpp"
#include "mgmt/halctl/settings.hpp"

#include <iostream>

using namespace halcyon::halctl;

int main(int argc, char** argv) {
    std::vector<std::string> arguments(argv + 1, argv + argc);
    ParseResult parsed = parse_arguments(arguments);
    if (!parsed.invocation) {
        std::cerr << "halctl: " << parsed.error << "\n";
        return kExitUsage;
    }
    const Invocation& invocation = *parsed.invocation;
    if (invocation.verb == Verb::help) {
        std::string command = invocation.value("Command");
        if (!command.empty() && !find_verb(command)) {
            std::cerr << "halctl: unknown command '" << command << "'\n";
            return kExitUsage;
        }
        std::cout << help_text(command);
        return arguments.empty() ? kExitUsage : kExitOk;
    }
    if (invocation.verb == Verb::completion) {
        if (!equal_ignoring_case(invocation.value("Shell"), "bash")) {
            std::cerr << "halctl: completion: only bash is supported\n";
            return kExitUsage;
        }
        std::cout << bash_completion_script();
        return kExitOk;
    }
    std::map<std::string, std::string> environment = read_environment();
    SettingsResult settings =
        resolve_settings(invocation, environment, read_config_file(environment));
    if (!settings.settings) {
        std::cerr << "halctl: " << settings.error << "\n";
        return kExitUsage;
    }
    HttpClient client(*settings.settings);
    return run_command(invocation, client, std::cout, std::cerr);
}
