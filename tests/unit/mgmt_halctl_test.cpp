// halctl without a server: argument parsing (PowerShell-style, case-insensitive), sizes, where
// host and key come from, request bodies, table output and exit codes.
#include "mgmt/halctl/arguments.hpp"
#include "mgmt/halctl/commands.hpp"
#include "mgmt/halctl/output.hpp"
#include "mgmt/halctl/settings.hpp"

#include <gtest/gtest.h>

namespace {

using namespace halcyon::halctl;

ParseResult parse(std::vector<std::string> arguments) {
    return parse_arguments(arguments);
}

const std::string kKey(64, 'a');

TEST(HalctlArguments, VerbsAreCaseInsensitive) {
    for (const char* spelling : {"Get-VM", "get-vm", "GET-VM", "gEt-Vm"}) {
        ParseResult result = parse({spelling});
        ASSERT_TRUE(result.invocation) << spelling << ": " << result.error;
        EXPECT_EQ(result.invocation->verb, Verb::get_vm);
    }
    EXPECT_EQ(parse({"Get-VMs"}).error, "unknown command 'Get-VMs' (try: halctl help)");
    EXPECT_EQ(parse({}).invocation->verb, Verb::help);
}

TEST(HalctlArguments, ParameterSpellings) {
    ParseResult result = parse({"New-VM", "-Name", "web", "-memorystartupbytes:512MB",
                                "--processorcount=2", "-Kern", "vmlinuz", "-Disk", "a.vhdx",
                                "-disk", "b.iso:ro", "-CommandLine", "-v console=ttyS0"});
    ASSERT_TRUE(result.invocation) << result.error;
    const Invocation& invocation = *result.invocation;
    EXPECT_EQ(invocation.value("Name"), "web");
    EXPECT_EQ(invocation.value("MemoryStartupBytes"), "512MB");
    EXPECT_EQ(invocation.value("ProcessorCount"), "2");
    EXPECT_EQ(invocation.value("Kernel"), "vmlinuz"); // unique prefix
    EXPECT_EQ(invocation.all("Disk"), (std::vector<std::string>{"a.vhdx", "b.iso:ro"}));
    EXPECT_EQ(invocation.value("CommandLine"), "-v console=ttyS0"); // values may start with '-'
}

TEST(HalctlArguments, PositionalNameAndSwitches) {
    ParseResult result = parse({"Stop-VM", "web", "-Force", "-json"});
    ASSERT_TRUE(result.invocation) << result.error;
    EXPECT_EQ(result.invocation->value("Name"), "web");
    EXPECT_TRUE(result.invocation->has("Force"));
    EXPECT_TRUE(result.invocation->has("Json"));
    EXPECT_FALSE(result.invocation->has("TurnOff"));
    // Globals before the verb.
    ParseResult global = parse({"--host", "h:1", "--key", kKey, "Get-VMHost"});
    ASSERT_TRUE(global.invocation) << global.error;
    EXPECT_EQ(global.invocation->value("Host"), "h:1");
}

TEST(HalctlArguments, UsageErrors) {
    EXPECT_EQ(parse({"Start-VM"}).error, "Start-VM needs -Name");
    EXPECT_EQ(parse({"New-VM", "web"}).error, "New-VM needs -Kernel");
    EXPECT_EQ(parse({"Get-VM", "-Colour", "red"}).error, "unknown parameter -Colour");
    EXPECT_EQ(parse({"Get-VM", "-Name"}).error, "-Name needs a value");
    EXPECT_EQ(parse({"Get-VM", "a", "b"}).error, "unexpected argument 'b'");
    EXPECT_EQ(parse({"Get-VM", "a", "-Name", "b"}).error, "unexpected argument 'a'");
    EXPECT_EQ(parse({"Get-VMHost", "x"}).error, "unexpected argument 'x'");
    EXPECT_EQ(parse({"Stop-VM", "a", "-Force:yes"}).error, "-Force does not take a value");
    EXPECT_EQ(parse({"Set-VM", "a", "-Kernel", "x", "-Kernel", "y"}).error, "-Kernel given twice");
    // "-P" could be -Passthru or -ProcessorCount.
    EXPECT_EQ(parse({"Set-VM", "a", "-P", "2"}).error, "ambiguous parameter -P");
}

TEST(HalctlArguments, HelpForms) {
    for (std::vector<std::string> form : {std::vector<std::string>{"Stop-VM", "-?"},
                                          {"stop-vm", "-Help"},
                                          {"help", "Stop-VM"},
                                          {"Stop-VM", "-h"}}) {
        ParseResult result = parse(form);
        ASSERT_TRUE(result.invocation) << form[0];
        EXPECT_EQ(result.invocation->verb, Verb::help);
        EXPECT_TRUE(equal_ignoring_case(result.invocation->value("Command"), "Stop-VM"));
    }
    EXPECT_NE(help_text("Stop-VM").find("-TurnOff"), std::string::npos);
    EXPECT_NE(help_text("").find("Exit codes: 0 ok, 1 usage, 2 authentication"), std::string::npos);
}

TEST(HalctlArguments, ByteSizes) {
    EXPECT_EQ(parse_byte_size("512MB"), 512ULL << 20);
    EXPECT_EQ(parse_byte_size("2gb"), 2ULL << 30);
    EXPECT_EQ(parse_byte_size("1T"), 1ULL << 40);
    EXPECT_EQ(parse_byte_size("64k"), 64ULL << 10);
    EXPECT_EQ(parse_byte_size("536870912"), 536870912ULL);
    EXPECT_FALSE(parse_byte_size("").has_value());
    EXPECT_FALSE(parse_byte_size("MB").has_value());
    EXPECT_FALSE(parse_byte_size("1.5GB").has_value());
    EXPECT_FALSE(parse_byte_size("12XB").has_value());
    EXPECT_FALSE(parse_byte_size("99999999999TB").has_value()); // overflows
}

TEST(HalctlSettings, Endpoints) {
    EXPECT_EQ(parse_endpoint("host")->port, kDefaultPort);
    EXPECT_EQ(parse_endpoint("10.0.0.5:80")->host, "10.0.0.5");
    EXPECT_EQ(parse_endpoint("10.0.0.5:80")->port, 80);
    EXPECT_EQ(parse_endpoint("[fe80::1]:9000")->host, "fe80::1");
    EXPECT_EQ(parse_endpoint("[fe80::1]:9000")->port, 9000);
    EXPECT_EQ(parse_endpoint("fe80::1")->host, "fe80::1");
    EXPECT_FALSE(parse_endpoint("host:0").has_value());
    EXPECT_FALSE(parse_endpoint("host:65536").has_value());
    EXPECT_FALSE(parse_endpoint("host:").has_value());
    EXPECT_FALSE(parse_endpoint("[fe80::1").has_value());
    EXPECT_FALSE(parse_endpoint("").has_value());
}

TEST(HalctlSettings, Precedence) {
    std::string config = "# comment\nhost = file-host:1\nkey = " + std::string(64, 'c') + "\n";
    std::map<std::string, std::string> environment = {{"HALCYON_HOST", "env-host:2"},
                                                      {"HALCYON_KEY", std::string(64, 'b')}};
    Invocation plain = *parse({"Get-VM"}).invocation;
    SettingsResult from_file = resolve_settings(plain, {}, config);
    ASSERT_TRUE(from_file.settings) << from_file.error;
    EXPECT_EQ(from_file.settings->endpoint.host, "file-host");
    EXPECT_EQ(from_file.settings->key.bytes[0], 0xcc);
    SettingsResult from_environment = resolve_settings(plain, environment, config);
    EXPECT_EQ(from_environment.settings->endpoint.host, "env-host");
    EXPECT_EQ(from_environment.settings->key.bytes[0], 0xbb);
    Invocation explicit_options =
        *parse({"-ComputerName", "cli-host", "--key", kKey, "Get-VM", "-Timeout", "3"}).invocation;
    SettingsResult from_command_line = resolve_settings(explicit_options, environment, config);
    ASSERT_TRUE(from_command_line.settings) << from_command_line.error;
    EXPECT_EQ(from_command_line.settings->endpoint.host, "cli-host");
    EXPECT_EQ(from_command_line.settings->endpoint.port, kDefaultPort);
    EXPECT_EQ(from_command_line.settings->key.bytes[0], 0xaa);
    EXPECT_EQ(from_command_line.settings->timeout_seconds, 3);

    EXPECT_NE(resolve_settings(plain, {}, "").error.find("no server given"), std::string::npos);
    EXPECT_NE(resolve_settings(plain, {{"HALCYON_HOST", "h"}}, "").error.find("no host key"),
              std::string::npos);
    EXPECT_NE(resolve_settings(plain, {{"HALCYON_HOST", "h"}, {"HALCYON_KEY", "xyz"}}, "")
                  .error.find("64 hex digits"),
              std::string::npos);
}

TEST(HalctlCommands, VmSettingsBody) {
    std::string error;
    Invocation create = *parse({"New-VM", "web", "-Kernel", "k\"1", "-MemoryStartupBytes", "1GB",
                                "-ProcessorCount", "2", "-Disk", "a.vhdx", "-Disk", "b.iso:ro"})
                             .invocation;
    EXPECT_EQ(
        vm_settings_body(create, true, error),
        R"({"name":"web","memory_bytes":1073741824,"vcpus":2,"kernel":"k\"1",)"
        R"("disks":[{"path":"a.vhdx","read_only":false},{"path":"b.iso","read_only":true}]})");
    EXPECT_EQ(error, "");
    Invocation change = *parse({"Set-VM", "web", "-CommandLine", "quiet"}).invocation;
    EXPECT_EQ(vm_settings_body(change, false, error), R"({"command_line":"quiet"})");
    Invocation bad = *parse({"Set-VM", "web", "-ProcessorCount", "2GB"}).invocation;
    EXPECT_EQ(vm_settings_body(bad, false, error), "");
    EXPECT_EQ(error, "-ProcessorCount must be a number");
}

TEST(HalctlCommands, ExitCodesAndEncoding) {
    EXPECT_EQ(exit_code_for_status(401), kExitAuth);
    EXPECT_EQ(exit_code_for_status(404), kExitNotFound);
    EXPECT_EQ(exit_code_for_status(409), kExitConflict);
    EXPECT_EQ(exit_code_for_status(400), kExitInvalid);
    EXPECT_EQ(exit_code_for_status(413), kExitInvalid);
    EXPECT_EQ(exit_code_for_status(503), kExitServer);
    EXPECT_EQ(percent_encode("boot/vmlinuz 6.1", true), "boot/vmlinuz%206.1");
    EXPECT_EQ(percent_encode("a/b", false), "a%2Fb");
}

TEST(HalctlOutput, Tables) {
    EXPECT_EQ(format_table({"Name", "CPUs"}, {{"web", "2"}, {"database", "16"}}, {false, true}),
              "Name     CPUs\n"
              "----     ----\n"
              "web         2\n"
              "database   16\n");
    EXPECT_EQ(format_list({{"Name", "web"}, {"ProcessorCount", "2"}}), "Name           : web\n"
                                                                       "ProcessorCount : 2\n");
    EXPECT_EQ(format_uptime(0), "00:00:00");
    EXPECT_EQ(format_uptime(3723000), "01:02:03");
    EXPECT_EQ(format_uptime(2 * 86400000ULL + 3723000), "2.01:02:03");
}

TEST(HalctlOutput, VmTableFromApiJson) {
    auto body =
        JsonBody::parse(R"({"vms":[{"name":"web","state":"Running","memory_bytes":536870912,)"
                        R"("vcpus":2,"kernel":"vmlinuz","uptime_ms":65000},)"
                        R"({"name":"db","state":"Off","memory_bytes":2147483648,)"
                        R"("vcpus":16,"kernel":"k","uptime_ms":0}]})");
    ASSERT_TRUE(body);
    auto vms = body->root().member("vms");
    EXPECT_EQ(format_vm_table({*vms->element(0), *vms->element(1)}),
              "Name State   CPUs MemoryMB Uptime   Kernel\n"
              "---- -----   ---- -------- ------   ------\n"
              "web  Running    2      512 00:01:05 vmlinuz\n"
              "db   Off       16     2048 00:00:00 k\n");
    EXPECT_FALSE(JsonBody::parse("{not json"));
}

TEST(HalctlCompletion, ListsEveryVerb) {
    std::string script = bash_completion_script();
    for (const VerbSpec& spec : verb_specs())
        EXPECT_NE(script.find(spec.name), std::string::npos) << spec.name;
    EXPECT_NE(script.find("complete -F _halctl halctl"), std::string::npos);
}

} // namespace
