// halctl's command line, in the style of Hyper-V's PowerShell cmdlets: a verb-noun command
// (case-insensitive, like PowerShell), parameters as -Name value, -Name:value or --name=value
// (case-insensitive, any unambiguous prefix), switches (-Force), and a positional value for the
// main parameter (Start-VM web). Host-only code.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace halcyon::halctl {

enum class Verb {
    get_vmhost,
    get_vm,
    new_vm,
    set_vm,
    start_vm,
    stop_vm,
    restart_vm,
    suspend_vm,
    resume_vm,
    remove_vm,
    connect_vm,
    get_vmlog,
    copy_vmfile,
    // The storage and integration-service verbs (vhd_verbs.cpp).
    new_vhd,
    get_vhd,
    resize_vhd,
    get_vmharddiskdrive,
    add_vmharddiskdrive,
    remove_vmharddiskdrive,
    get_vmintegrationservice,
    completion,
    help,
};

struct ParameterSpec {
    const char* name; // canonical spelling, e.g. "MemoryStartupBytes"
    bool takes_value; // false: a switch
    bool repeatable;  // -Disk a -Disk b
    const char* help;
};

struct VerbSpec {
    Verb verb;
    const char* name;       // "Get-VM"
    const char* positional; // parameter a bare word fills ("Name"), or nullptr
    const char* required;   // comma-separated required parameters, or ""
    const char* summary;
    std::vector<ParameterSpec> parameters;
};

// Every verb, in the order help lists them.
[[nodiscard]] const std::vector<VerbSpec>& verb_specs();
// `specs` with the storage and integration-service verbs inserted before "completion"
// (vhd_verbs.cpp).
[[nodiscard]] std::vector<VerbSpec> with_vhd_verbs(std::vector<VerbSpec> specs);
// Options every verb accepts (--host, --key, -Json, ...).
[[nodiscard]] const std::vector<ParameterSpec>& global_parameters();
[[nodiscard]] const VerbSpec* find_verb(std::string_view name); // case-insensitive

struct Invocation {
    Verb verb = Verb::help;
    const VerbSpec* spec = nullptr;
    std::map<std::string, std::vector<std::string>> values; // canonical name -> values
    std::map<std::string, bool> switches;                   // canonical name -> present

    [[nodiscard]] bool has(const std::string& name) const {
        return values.count(name) != 0 || switches.count(name) != 0;
    }
    [[nodiscard]] std::string value(const std::string& name, std::string fallback = {}) const {
        auto found = values.find(name);
        return found == values.end() ? fallback : found->second.back();
    }
    [[nodiscard]] std::vector<std::string> all(const std::string& name) const {
        auto found = values.find(name);
        return found == values.end() ? std::vector<std::string>{} : found->second;
    }
};

struct ParseResult {
    std::optional<Invocation> invocation;
    std::string error; // a usage error, when invocation is empty
};

[[nodiscard]] ParseResult parse_arguments(const std::vector<std::string>& arguments);

// "512MB", "2GB", "1.5"? no: whole numbers with an optional binary suffix K/KB, M/MB, G/GB,
// T/TB in any case, as PowerShell's numeric literals (1MB = 1048576).
[[nodiscard]] std::optional<uint64_t> parse_byte_size(std::string_view text);

// A case-insensitive ASCII comparison.
[[nodiscard]] bool equal_ignoring_case(std::string_view a, std::string_view b);

} // namespace halcyon::halctl
