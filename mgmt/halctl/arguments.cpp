#include "mgmt/halctl/arguments.hpp"

#include <cctype>
#include <limits>

namespace halcyon::halctl {
namespace {

const ParameterSpec kName{"Name", true, false, "the VM's name"};
const ParameterSpec kPassthru{"Passthru", false, false, "print the VM afterwards"};
const ParameterSpec kMemory{"MemoryStartupBytes", true, false, "memory, e.g. 512MB or 2GB"};
const ParameterSpec kProcessors{"ProcessorCount", true, false, "virtual processors (1-64)"};
const ParameterSpec kKernel{"Kernel", true, false, "kernel file on the host"};
const ParameterSpec kInitrd{"Initrd", true, false, "initial ramdisk file on the host"};
const ParameterSpec kCommandLine{"CommandLine", true, false, "kernel command line"};
const ParameterSpec kDisk{"Disk", true, true, "disk image PATH[:ro|:rw] (repeatable)"};

std::vector<ParameterSpec> vm_settings(bool passthru) {
    std::vector<ParameterSpec> list = {kName,   kMemory,      kProcessors, kKernel,
                                       kInitrd, kCommandLine, kDisk};
    if (passthru)
        list.push_back(kPassthru);
    return list;
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() &&
           equal_ignoring_case(text.substr(0, prefix.size()), prefix);
}

// The parameter `written` names among `candidates`: exact match, else a unique prefix.
const ParameterSpec* match_parameter(std::string_view written,
                                     const std::vector<const ParameterSpec*>& candidates,
                                     std::string& error) {
    const ParameterSpec* prefix_match = nullptr;
    int prefix_matches = 0;
    for (const ParameterSpec* spec : candidates) {
        if (equal_ignoring_case(written, spec->name))
            return spec;
        if (starts_with_ignoring_case(spec->name, written)) {
            prefix_match = spec;
            ++prefix_matches;
        }
    }
    if (prefix_matches == 1)
        return prefix_match;
    error = prefix_matches > 1 ? "ambiguous parameter -" + std::string(written)
                               : "unknown parameter -" + std::string(written);
    return nullptr;
}

} // namespace

bool equal_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(uint8_t(a[i])) != std::tolower(uint8_t(b[i])))
            return false;
    }
    return true;
}

const std::vector<ParameterSpec>& global_parameters() {
    static const std::vector<ParameterSpec> globals = {
        {"Host", true, false, "HOST[:PORT] of the Halcyon management API (default port 8443)"},
        {"ComputerName", true, false, "the same as --host, as Hyper-V's cmdlets spell it"},
        {"Key", true, false, "the host key, 64 hex digits"},
        {"Json", false, false, "print the API's JSON instead of a table"},
        {"Timeout", true, false, "seconds to wait for the server (default 10)"},
        {"Help", false, false, "show help"},
    };
    return globals;
}

const std::vector<VerbSpec>& verb_specs() {
    static const std::vector<VerbSpec> specs = with_vhd_verbs({
        {Verb::get_vmhost, "Get-VMHost", nullptr, "", "show the host: processors, memory, API", {}},
        {Verb::get_vm, "Get-VM", "Name", "", "list VMs, or show one", {kName}},
        {Verb::new_vm, "New-VM", "Name", "Name,Kernel", "create a VM", vm_settings(false)},
        {Verb::set_vm, "Set-VM", "Name", "Name", "change a VM's settings", vm_settings(true)},
        {Verb::start_vm, "Start-VM", "Name", "Name", "start a VM", {kName, kPassthru}},
        {Verb::stop_vm,
         "Stop-VM",
         "Name",
         "Name",
         "shut a VM down (ACPI power button; -Force powers off, -TurnOff pulls the plug)",
         {kName,
          kPassthru,
          {"Force", false, false, "power off without waiting for the guest"},
          {"TurnOff", false, false, "turn the VM off at once, like pulling the plug"}}},
        {Verb::restart_vm, "Restart-VM", "Name", "Name", "reset a VM", {kName, kPassthru}},
        {Verb::suspend_vm, "Suspend-VM", "Name", "Name", "pause a VM", {kName, kPassthru}},
        {Verb::resume_vm, "Resume-VM", "Name", "Name", "continue a paused VM", {kName, kPassthru}},
        {Verb::remove_vm, "Remove-VM", "Name", "Name", "delete a VM (it must be off)", {kName}},
        {Verb::connect_vm,
         "Connect-VM",
         "Name",
         "Name",
         "attach to a VM's serial console (detach with Ctrl-])",
         {kName}},
        {Verb::get_vmlog,
         "Get-VMLog",
         nullptr,
         "",
         "print the host log",
         {{"Since", true, false, "start at this log offset"},
          {"Follow", false, false, "keep printing new lines until Ctrl-C"}}},
        {Verb::copy_vmfile,
         "Copy-VMFile",
         "SourcePath",
         "SourcePath",
         "upload a kernel or initrd to the host",
         {{"SourcePath", true, false, "the local file"},
          {"DestinationPath", true, false, "its name on the host (default: the file name)"}}},
        {Verb::completion,
         "completion",
         "Shell",
         "Shell",
         "print a shell completion script: halctl completion bash",
         {{"Shell", true, false, "bash"}}},
        {Verb::help,
         "help",
         "Command",
         "",
         "show help for a command",
         {{"Command", true, false, ""}}},
    });
    return specs;
}

const VerbSpec* find_verb(std::string_view name) {
    for (const VerbSpec& spec : verb_specs()) {
        if (equal_ignoring_case(name, spec.name))
            return &spec;
    }
    return nullptr;
}

ParseResult parse_arguments(const std::vector<std::string>& arguments) {
    ParseResult result;
    Invocation invocation;
    std::vector<std::string> positionals;
    std::vector<const ParameterSpec*> candidates;
    for (const ParameterSpec& global : global_parameters())
        candidates.push_back(&global);

    for (size_t i = 0; i < arguments.size(); ++i) {
        std::string_view argument = arguments[i];
        bool is_parameter =
            argument.size() >= 2 && argument[0] == '-' &&
            (std::isalpha(uint8_t(argument[1])) || argument[1] == '-' || argument[1] == '?');
        if (!is_parameter) {
            if (!invocation.spec) {
                invocation.spec = find_verb(argument);
                if (!invocation.spec) {
                    result.error =
                        "unknown command '" + std::string(argument) + "' (try: halctl help)";
                    return result;
                }
                invocation.verb = invocation.spec->verb;
                for (const ParameterSpec& parameter : invocation.spec->parameters)
                    candidates.push_back(&parameter);
            } else {
                positionals.emplace_back(argument);
            }
            continue;
        }
        // -Name value, -Name:value, --name value, --name=value; -? and -h for help.
        std::string_view written = argument.substr(argument[1] == '-' ? 2 : 1);
        std::optional<std::string> attached;
        size_t separator = written.find_first_of(":=");
        if (separator != std::string_view::npos) {
            attached = std::string(written.substr(separator + 1));
            written = written.substr(0, separator);
        }
        if (written == "?" || written == "h")
            written = "Help";
        const ParameterSpec* spec = match_parameter(written, candidates, result.error);
        if (!spec)
            return result;
        if (!spec->takes_value) {
            if (attached) {
                result.error = "-" + std::string(spec->name) + " does not take a value";
                return result;
            }
            invocation.switches[spec->name] = true;
            continue;
        }
        std::string value;
        if (attached) {
            value = *attached;
        } else if (i + 1 < arguments.size()) {
            value = arguments[++i]; // taken as is, even if it starts with '-'
        } else {
            result.error = "-" + std::string(spec->name) + " needs a value";
            return result;
        }
        std::vector<std::string>& slot = invocation.values[spec->name];
        if (!slot.empty() && !spec->repeatable) {
            result.error = "-" + std::string(spec->name) + " given twice";
            return result;
        }
        slot.push_back(value);
    }

    if (invocation.switches.count("Help")) {
        // "halctl Get-VM -?" is help for Get-VM.
        std::string command = invocation.spec ? invocation.spec->name : "";
        invocation = Invocation{};
        invocation.spec = find_verb("help");
        if (!command.empty())
            invocation.values["Command"] = {command};
        result.invocation = invocation;
        return result;
    }
    if (!invocation.spec) {
        invocation.spec = find_verb("help");
        invocation.verb = Verb::help;
    }
    if (!positionals.empty()) {
        const char* positional = invocation.spec->positional;
        if (!positional || positionals.size() > 1 || invocation.values.count(positional)) {
            result.error = "unexpected argument '" + positionals.back() + "'";
            return result;
        }
        invocation.values[positional] = {positionals[0]};
    }
    std::string_view required = invocation.spec->required;
    while (!required.empty()) {
        size_t comma = required.find(',');
        std::string name(required.substr(0, comma));
        required = comma == std::string_view::npos ? "" : required.substr(comma + 1);
        if (!invocation.values.count(name)) {
            result.error = std::string(invocation.spec->name) + " needs -" + name;
            return result;
        }
    }
    result.invocation = invocation;
    return result;
}

std::optional<uint64_t> parse_byte_size(std::string_view text) {
    uint64_t value = 0;
    size_t i = 0;
    for (; i < text.size() && std::isdigit(uint8_t(text[i])); ++i) {
        uint64_t digit = uint64_t(text[i] - '0');
        if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10)
            return std::nullopt;
        value = value * 10 + digit;
    }
    if (i == 0)
        return std::nullopt;
    std::string_view suffix = text.substr(i);
    struct Unit {
        const char* short_name;
        const char* long_name;
        unsigned shift;
    };
    static constexpr Unit kUnits[] = {
        {"", "", 0}, {"K", "KB", 10}, {"M", "MB", 20}, {"G", "GB", 30}, {"T", "TB", 40}};
    for (const Unit& unit : kUnits) {
        if (equal_ignoring_case(suffix, unit.short_name) ||
            equal_ignoring_case(suffix, unit.long_name)) {
            if (unit.shift && value > (std::numeric_limits<uint64_t>::max() >> unit.shift))
                return std::nullopt;
            return value << unit.shift;
        }
    }
    return std::nullopt;
}

} // namespace halcyon::halctl
