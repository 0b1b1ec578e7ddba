// halcyon.cfg parser: every key, every diagnostic, the shipped config and the documented
// example, and a deterministic fuzz loop (run under ASan/UBSan) showing no input crashes it.
#include "boot/config/config.hpp"
#include "boot/config/text.hpp"
#include "tests/unit/config_test_support.hpp"

#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <memory>
#include <random>
#include <sstream>
#include <string>

using namespace halcyon::config;
using namespace halcyon::config::testing;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    std::ostringstream contents;
    contents << file.rdbuf();
    return contents.str();
}

// The repository root, from this file's path (tests/unit/config_test.cpp).
std::string repo_path(const char* relative) {
    std::string here = __FILE__;
    return here.substr(0, here.rfind('/')) + "/../../" + relative;
}

constexpr uint32_t ip(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
    return a << 24 | b << 16 | c << 8 | d;
}

} // namespace

TEST(Config, EmptyIsValidAndKeepsDefaults) {
    for (std::string_view text : {"", "\n", "# only a comment\n", "\xEF\xBB\xBF", "  \t \r\n"}) {
        Parsed parsed = expect_ok(text);
        EXPECT_TRUE(parsed.diagnostics.empty());
        EXPECT_TRUE(parsed.config->serial.enabled);
        EXPECT_EQ(parsed.config->serial.io_port, 0x3F8);
        EXPECT_EQ(parsed.config->serial.baud, 115200u);
        EXPECT_EQ(parsed.config->log_level, LogLevel::info);
        EXPECT_EQ(parsed.config->management.mode, AddressMode::dhcp);
        EXPECT_EQ(parsed.config->vm_count, 0u);
    }
}

TEST(Config, EveryKey) {
    Parsed parsed = expect_ok(R"(# Halcyon
serial = com2
serial_baud = 57600
log_level = trace
crash_test = divide_error
on_ready = poweroff

[management]
address = 192.168.1.10/24
gateway = 192.168.1.1
ipv6 = off
port = 9443
nic = 00:1f.7

[vm web-1]
kernel = boot/vmlinuz
initrd = boot/initrd.img
cmdline = console=ttyS0 root=/dev/vda1 quiet
memory = 1G
vcpus = 4
disk = web.vhdx
disk = shared.vhdx ro
disk = scratch.vhdx rw

[vm db_2]
kernel = vmlinuz
memory = 0x20000000
disk = shared.vhdx ro
)");
    const BootConfig& c = *parsed.config;
    EXPECT_EQ(c.serial.io_port, 0x2F8);
    EXPECT_EQ(c.serial.baud, 57600u);
    EXPECT_EQ(c.log_level, LogLevel::trace);
    EXPECT_EQ(c.crash_test, CrashTest::divide_error);
    EXPECT_EQ(c.on_ready, OnReady::poweroff);
    EXPECT_EQ(c.management.mode, AddressMode::static_ipv4);
    EXPECT_EQ(c.management.ipv4_address, ip(192, 168, 1, 10));
    EXPECT_EQ(c.management.ipv4_prefix_length, 24);
    EXPECT_EQ(c.management.ipv4_gateway, ip(192, 168, 1, 1));
    EXPECT_FALSE(c.management.ipv6_slaac);
    EXPECT_EQ(c.management.api_port, 9443);
    EXPECT_STREQ(c.management.nic, "00:1f.7");
    ASSERT_EQ(c.vm_count, 2u);
    const VmConfig& web = c.vms[0];
    EXPECT_STREQ(web.name, "web-1");
    EXPECT_EQ(web.first_line, 15u);
    EXPECT_STREQ(web.kernel, "boot/vmlinuz");
    EXPECT_STREQ(web.initrd, "boot/initrd.img");
    EXPECT_STREQ(web.command_line, "console=ttyS0 root=/dev/vda1 quiet");
    EXPECT_EQ(web.memory_bytes, 1ULL << 30);
    EXPECT_EQ(web.vcpus, 4u);
    ASSERT_EQ(web.disk_count, 3u);
    EXPECT_STREQ(web.disks[1].path, "shared.vhdx");
    EXPECT_TRUE(web.disks[1].read_only);
    EXPECT_FALSE(web.disks[2].read_only);
    EXPECT_EQ(c.vms[1].memory_bytes, 512ULL << 20);
    EXPECT_EQ(c.vms[1].vcpus, 1u);
}

TEST(Config, CommentsCrlfAndBom) {
    Parsed parsed = expect_ok("\xEF\xBB\xBF# header\r\n"
                              "log_level = debug   # trailing comment\r\n"
                              "\r\n"
                              "   # indented comment\r\n"
                              "[vm a]   # comment after a header\r\n"
                              "kernel = k#1\r\n"
                              "cmdline = a=b c#d # comment\r\n");
    EXPECT_EQ(parsed.config->log_level, LogLevel::debug);
    EXPECT_STREQ(parsed.config->vms[0].kernel, "k#1");
    EXPECT_STREQ(parsed.config->vms[0].command_line, "a=b c#d");
    EXPECT_EQ(parsed.config->vms[0].first_line, 5u);

    expect_error("\r\n\r\nlog_level = loud\r\n", 3, "log_level must be error, warn, info");
}

TEST(Config, QuotedValues) {
    Parsed parsed = expect_ok("[vm a]\n"
                              "kernel = \"my kernels/vmlinuz\"\n"
                              "cmdline = \"console=ttyS0 # not a comment\"  # a comment\n"
                              "disk = \"two words.vhdx\" ro\n");
    const VmConfig& vm = parsed.config->vms[0];
    EXPECT_STREQ(vm.kernel, "my kernels/vmlinuz");
    EXPECT_STREQ(vm.command_line, "console=ttyS0 # not a comment");
    EXPECT_STREQ(vm.disks[0].path, "two words.vhdx");
    EXPECT_TRUE(vm.disks[0].read_only);

    EXPECT_STREQ(expect_ok("[vm a]\nkernel = k\ncmdline = \"\"\n").config->vms[0].command_line, "");
    expect_error("[vm a]\nkernel = k\ncmdline = \"unterminated\n", 3, "unterminated quote");
    expect_error("[vm a]\nkernel = \"a\" b\n", 2, "unexpected 'b'");
    expect_error("[vm a]\nkernel = a b\n", 2, "quote values containing spaces");
    expect_error("[vm a]\nkernel = k\ncmdline = \"x\" y\n", 3, "after the quoted cmdline");
}

TEST(Config, Serial) {
    struct Case {
        const char* value;
        bool enabled;
        uint16_t port;
    };
    for (Case c : {Case{"com1", true, 0x3F8}, Case{"com2", true, 0x2F8}, Case{"com3", true, 0x3E8},
                   Case{"com4", true, 0x2E8}, Case{"0x2f8", true, 0x2F8}, Case{"760", true, 760},
                   Case{"none", false, 0x3F8}}) {
        Parsed parsed = expect_ok(std::string("serial = ") + c.value + "\n");
        EXPECT_EQ(parsed.config->serial.enabled, c.enabled) << c.value;
        EXPECT_EQ(parsed.config->serial.io_port, c.port) << c.value;
    }
    for (const char* bad : {"com5", "0", "0x10000", "COM1x", "0x"})
        expect_error(std::string("serial = ") + bad + "\n", 1, "serial must be com1");

    EXPECT_EQ(expect_ok("serial_baud = 9600").config->serial.baud, 9600u);
    expect_error("serial_baud = 100000\n", 1, "not 115200 divided by a whole number");
    expect_error("serial_baud = 0\n", 1, "serial_baud must be a number from 1 to 115200");
    expect_error("serial_baud = 230400\n", 1, "from 1 to 115200");
    expect_error("serial_baud = fast\n", 1, "not 'fast'");
}

TEST(Config, Enumerations) {
    const char* levels[] = {"error", "warn", "info", "debug", "trace"};
    for (int i = 0; i < 5; ++i) {
        Parsed parsed = expect_ok(std::string("log_level = ") + levels[i]);
        EXPECT_EQ(parsed.config->log_level, static_cast<LogLevel>(i));
        EXPECT_STREQ(log_level_name(static_cast<LogLevel>(i)), levels[i]);
    }
    EXPECT_EQ(expect_ok("crash_test = page_fault").config->crash_test, CrashTest::page_fault);
    EXPECT_EQ(expect_ok("crash_test = invalid_opcode").config->crash_test,
              CrashTest::invalid_opcode);
    EXPECT_EQ(expect_ok("crash_test = none").config->crash_test, CrashTest::none);
    EXPECT_EQ(expect_ok("on_ready = run").config->on_ready, OnReady::run);
    expect_error("crash_test = segfault\n", 1, "crash_test must be none, page_fault");
    expect_error("on_ready = halt\n", 1, "on_ready must be run or poweroff, not 'halt'");
    expect_error("log_level = INFO\n", 1, "not 'INFO'");
}

TEST(Config, ManagementNetwork) {
    Parsed parsed = expect_ok("[management]\naddress = none\nipv6 = slaac\nnic = auto\n");
    EXPECT_EQ(parsed.config->management.mode, AddressMode::none);
    EXPECT_TRUE(parsed.config->management.ipv6_slaac);
    EXPECT_EQ(expect_ok("[management]\naddress = 10.0.0.2/8\ngateway = 10.255.0.1")
                  .config->management.ipv4_prefix_length,
              8);
    EXPECT_EQ(expect_ok("[management]\naddress = 0.0.0.0/32").config->management.ipv4_address, 0u);

    expect_error("[management]\naddress = 10.0.0.2\n", 2, "needs a prefix length");
    expect_error("[management]\naddress = 10.0.0.2/33\n", 2, "from 1 to 32");
    expect_error("[management]\naddress = 10.0.0.2/0\n", 2, "from 1 to 32");
    expect_error("[management]\naddress = 10.0.0.256/24\n", 2, "address must be dhcp, none");
    expect_error("[management]\naddress = 10.0.0/24\n", 2, "address must be dhcp, none");
    expect_error("[management]\naddress = 10.0.0.01/24\n", 2, "address must be dhcp, none");
    expect_error("[management]\naddress = 10.0.0.1.5/24\n", 2, "address must be dhcp, none");
    expect_error("[management]\naddress = dhcp6\n", 2, "not 'dhcp6'");
    expect_error("[management]\ngateway = 10.0.0.1\n", 2, "only used with a static address");
    expect_error("[management]\naddress = 10.0.0.2/24\ngateway = 10.0.1.1\n", 3,
                 "outside the subnet");
    expect_error("[management]\ngateway = router\n", 2, "gateway must be an IPv4 address");
    expect_error("[management]\nipv6 = on\n", 2, "ipv6 must be slaac or off");
    expect_error("[management]\nport = 0\n", 2, "port must be a number from 1 to 65535");
    expect_error("[management]\nport = 65536\n", 2, "from 1 to 65535");
    EXPECT_EQ(expect_ok("[management]\nport = 65535\n").config->management.api_port, 65535);
    expect_error("[management]\nnic = eth0\n", 2, "nic must be auto or a PCI address");
    expect_error("[management]\nnic = 00:20.0\n", 2, "nic must be auto");
    expect_error("[management]\nnic = 00:03.8\n", 2, "nic must be auto");
    expect_error("[management]\nnic = 0g:03.0\n", 2, "nic must be auto");
    EXPECT_STREQ(expect_ok("[management]\nnic = AF:1F.0\n").config->management.nic, "AF:1F.0");
}

TEST(Config, ManagementHostKey) {
    EXPECT_STREQ(expect_ok("[management]\n").config->management.host_key, "");
    const std::string key(64, 'a');
    EXPECT_EQ(
        std::string(expect_ok("[management]\nkey = " + key + "\n").config->management.host_key),
        key);
    const std::string mixed = "0123456789abcdefABCDEF" + std::string(42, '7');
    EXPECT_EQ(std::string(expect_ok("[management]\nkey = " + mixed).config->management.host_key),
              mixed);
    // Wrong keys are reported by length, never echoed (the value is a secret).
    expect_error("[management]\nkey = abc\n", 2,
                 "key must be exactly 64 hex digits (a 256-bit key; got 3 characters)");
    expect_error("[management]\nkey = " + std::string(63, 'a') + "g\n", 2, "got 64 characters");
    expect_error("[management]\nkey = " + std::string(65, 'a') + "\n", 2, "got 65 characters");
    expect_error("key = " + key + "\n", 1, "key 'key' belongs in [management]");
}

TEST(Config, VmSections) {
    expect_error("[vm]\n", 1, "needs a name");
    expect_error("[vm bad.name]\n", 1, "may only contain letters, digits");
    expect_error("[vm " + std::string(32, 'x') + "]\n", 1, "longer than 31 characters");
    EXPECT_STREQ(expect_ok("[vm " + std::string(31, 'x') + "]\nkernel = k\n").config->vms[0].name,
                 std::string(31, 'x').c_str());
    EXPECT_STREQ(expect_ok("[ vm   spaced ]\nkernel = k\n").config->vms[0].name, "spaced");
    expect_error("[vm a]\nkernel = k\n[vm a]\nkernel = k\n", 3, "already defined on line 1");
    expect_error("log_level = info\n\n[vm lonely]\nmemory = 64M\n", 3, "[vm lonely] has no kernel");

    std::string many;
    for (int i = 0; i < 17; ++i)
        many += "[vm v" + std::to_string(i) + "]\nkernel = k\n";
    Parsed parsed = run(many);
    EXPECT_FALSE(parsed.ok);
    EXPECT_EQ(parsed.config->vm_count, kMaxVms);
    EXPECT_TRUE(parsed.has(33, "too many VMs")) << parsed.messages();
    EXPECT_EQ(parsed.diagnostics.count, 1u) << parsed.messages(); // its keys are not reported
}

TEST(Config, VmMemoryAndVcpus) {
    struct Case {
        const char* value;
        uint64_t bytes;
    };
    for (Case c : {Case{"16M", 16ULL << 20}, Case{"512m", 512ULL << 20}, Case{"2G", 2ULL << 30},
                   Case{"65536K", 64ULL << 20}, Case{"1024G", 1024ULL << 30},
                   Case{"33554432", 32ULL << 20}}) {
        Parsed parsed = expect_ok(std::string("[vm a]\nkernel = k\nmemory = ") + c.value);
        EXPECT_EQ(parsed.config->vms[0].memory_bytes, c.bytes) << c.value;
    }
    expect_error("[vm a]\nkernel = k\nmemory = 15M\n", 3, "between 16M and 1024G");
    expect_error("[vm a]\nkernel = k\nmemory = 1025G\n", 3, "between 16M and 1024G");
    expect_error("[vm a]\nkernel = k\nmemory = 99999999999999999999G\n", 3, "a size such as");
    expect_error("[vm a]\nkernel = k\nmemory = 17M\n", 3, "multiple of 2M");
    expect_error("[vm a]\nkernel = k\nmemory = lots\n", 3, "a size such as 512M");
    expect_error("[vm a]\nkernel = k\nmemory = 512MB\n", 3, "a size such as 512M");
    expect_error("[vm a]\nkernel = k\nmemory = M\n", 3, "a size such as 512M");
    EXPECT_EQ(expect_ok("[vm a]\nkernel = k\nvcpus = 64").config->vms[0].vcpus, 64u);
    expect_error("[vm a]\nkernel = k\nvcpus = 0\n", 3, "vcpus must be a number from 1 to 64");
    expect_error("[vm a]\nkernel = k\nvcpus = 65\n", 3, "from 1 to 64");
    expect_error("[vm a]\nkernel = k\nvcpus = -1\n", 3, "from 1 to 64");
}

TEST(Config, Paths) {
    std::string longest(kMaxPath - 1, 'p');
    EXPECT_STREQ(expect_ok("[vm a]\nkernel = " + longest).config->vms[0].kernel, longest.c_str());
    expect_error("[vm a]\nkernel = " + longest + "p\n", 2, "112 characters long; at most 111");
    expect_error("[vm a]\nkernel = /boot/vmlinuz\n", 2, "relative to the directory");
    expect_error("[vm a]\nkernel = ../vmlinuz\n", 2, "must not contain '..'");
    expect_error("[vm a]\nkernel = a/../../b\n", 2, "must not contain '..'");
    expect_error("[vm a]\nkernel = a\\b\n", 2, "use '/' as the separator");
    expect_error("[vm a]\nkernel = k\ninitrd = caf\xC3\xA9\n", 3, "printable ASCII");
    expect_error("[vm a]\nkernel = \"\"\n", 2, "kernel needs a file name");
    EXPECT_STREQ(expect_ok("[vm a]\nkernel = ..k/x..\n").config->vms[0].kernel, "..k/x..");
}

TEST(Config, CommandLine) {
    std::string longest(kMaxCommandLine - 1, 'c');
    EXPECT_EQ(
        std::strlen(
            expect_ok("[vm a]\nkernel = k\ncmdline = " + longest).config->vms[0].command_line),
        kMaxCommandLine - 1);
    expect_error("[vm a]\nkernel = k\ncmdline = " + longest + "c\n", 3, "at most 1023");
    expect_error("[vm a]\nkernel = k\ncmdline = a\x01\n", 3, "control character");
    EXPECT_STREQ(expect_ok("[vm a]\nkernel = k\ncmdline = a\tb").config->vms[0].command_line,
                 "a\tb");
}

TEST(Config, Disks) {
    std::string text = "[vm a]\nkernel = k\n";
    for (int i = 0; i < 8; ++i)
        text += "disk = d" + std::to_string(i) + ".vhdx\n";
    EXPECT_EQ(expect_ok(text).config->vms[0].disk_count, 8u);
    expect_error(text + "disk = d8.vhdx\n", 11, "at most 8");
    expect_error("[vm a]\nkernel = k\ndisk = x.vhdx\ndisk = x.vhdx ro\n", 4,
                 "already attached to this VM on line 3");
    expect_error("[vm a]\nkernel = k\ndisk = x.vhdx readonly\n", 3, "'ro' or 'rw', not 'readonly'");
    expect_error("[vm a]\nkernel = k\ndisk = /x.vhdx\n", 3, "relative");
    expect_error("[vm a]\nkernel = k\ndisk = x.vhdx\n[vm b]\nkernel = k\ndisk = x.vhdx ro\n", 6,
                 "also used by [vm a]");
    expect_ok("[vm a]\nkernel = k\ndisk = x.vhdx ro\n[vm b]\nkernel = k\ndisk = x.vhdx ro\n");
}

TEST(Config, KeysAndLines) {
    expect_error("[vm demo]\nkernel = k\nmemroy = 1G\n", 3,
                 "unknown key 'memroy' in [vm demo] (did you mean 'memory'?)");
    expect_error("serail = com1\n", 1, "in the global section (did you mean 'serial'?)");
    expect_error("frobnicate = 1\n", 1, "unknown key 'frobnicate' in the global section");
    expect_error("[vm a]\nkernel = k\nport = 1\n", 3,
                 "'port' belongs in [management], not in [vm a]");
    expect_error("[management]\nlog_level = info\n", 2, "belongs before the first [section]");
    expect_error("port = 80\n", 1, "belongs in [management]");
    expect_error("[management]\nkernel = k\n", 2, "belongs in [vm NAME]");
    expect_error("log_level = info\nlog_level = warn\n", 2, "'log_level' is already set on line 1");
    expect_error("[vm a]\nkernel = k\nkernel = j\n", 3, "already set on line 2");
    expect_error("log_level =\n", 1, "'log_level' has no value");
    expect_error("log_level = # only a comment\n", 1, "has no value");
    expect_error("= info\n", 1, "missing key before '='");
    expect_error("Log_Level = info\n", 1, "malformed key 'Log_Level'");
    expect_error("log level = info\n", 1, "malformed key");
    expect_error("just some words\n", 1, "expected 'key = value' or '[section]'");
    expect_error("[management\n", 1, "missing its closing ']'");
    expect_error("[management] extra\n", 1, "unexpected 'extra' after the section header");
    expect_error("[network]\naddress = dhcp\nWhat Ever = 1\n", 1, "unknown section [network]");
    expect_error("[management]\n[management]\n", 2, "already appears on line 1");
    // The same key in two VM sections is not a duplicate.
    expect_ok("[vm a]\nkernel = k\n[vm b]\nkernel = k\n");
}

TEST(Config, ReportsEveryProblemAndCountsOverflow) {
    Parsed parsed = run("serial = com9\nlog_level = x\n[vm a]\nvcpus = 0\nmemory = 1\n");
    EXPECT_FALSE(parsed.ok);
    EXPECT_EQ(parsed.diagnostics.count, 5u) << parsed.messages();
    EXPECT_TRUE(parsed.has(1, "serial"));
    EXPECT_TRUE(parsed.has(2, "log_level"));
    EXPECT_TRUE(parsed.has(3, "no kernel"));
    EXPECT_TRUE(parsed.has(4, "vcpus"));
    EXPECT_TRUE(parsed.has(5, "memory"));
    for (uint32_t i = 1; i < parsed.diagnostics.count; ++i) // in line order, whole-file checks too
        EXPECT_LE(parsed.diagnostics.entries[i - 1].line, parsed.diagnostics.entries[i].line);

    std::string text;
    for (int i = 0; i < 20; ++i)
        text += "bad line\n";
    parsed = run(text);
    EXPECT_FALSE(parsed.ok);
    EXPECT_EQ(parsed.diagnostics.count, kMaxDiagnostics);
    EXPECT_EQ(parsed.diagnostics.dropped, 4u);
    EXPECT_EQ(parsed.diagnostics.entries[15].line, 16u);
}

TEST(Config, LongUserTextIsCutToFitMessages) {
    std::string key(300, 'k');
    Parsed parsed = run(key + " = 1\n");
    ASSERT_EQ(parsed.diagnostics.count, 1u);
    EXPECT_LT(std::strlen(parsed.diagnostics.entries[0].message), sizeof(Diagnostic::message));
    EXPECT_TRUE(parsed.has(1, "unknown key 'kkkk"));
}

TEST(Config, TextHelpers) {
    using namespace halcyon::config::text;
    uint64_t value = 0;
    EXPECT_TRUE(parse_unsigned("18446744073709551615", ~uint64_t{0}, value));
    EXPECT_EQ(value, ~uint64_t{0});
    EXPECT_FALSE(parse_unsigned("18446744073709551616", ~uint64_t{0}, value));
    EXPECT_FALSE(parse_unsigned("256", 255, value));
    EXPECT_TRUE(parse_unsigned("0xFF", 255, value));
    EXPECT_FALSE(parse_size("17179869184G", value)); // 2^64 bytes
    EXPECT_EQ(edit_distance("memroy", "memory", 3), 2u);
    EXPECT_EQ(edit_distance("kernel", "vcpus", 3), 3u);
    EXPECT_EQ(slice("abc", 5), "");
    EXPECT_EQ(slice("abc", 1, 99), "bc");
}

TEST(Config, ShippedConfigIsValid) {
    std::string text = read_file(repo_path("configs/halcyon.cfg"));
    ASSERT_FALSE(text.empty());
    Parsed parsed = expect_ok(text);
    EXPECT_TRUE(parsed.config->serial.enabled);
    EXPECT_EQ(parsed.config->serial.io_port, 0x3F8);
    EXPECT_EQ(parsed.config->log_level, LogLevel::info);
    EXPECT_EQ(parsed.config->management.mode, AddressMode::dhcp);
    EXPECT_EQ(parsed.config->vm_count, 0u);
}

// docs/boot-config.md's complete example (its first ```ini block) must parse as documented.
TEST(Config, DocumentedExampleIsValid) {
    std::string doc = read_file(repo_path("docs/boot-config.md"));
    size_t start = doc.find("```ini\n");
    ASSERT_NE(start, std::string::npos);
    start += 7;
    size_t end = doc.find("```", start);
    ASSERT_NE(end, std::string::npos);
    Parsed parsed = expect_ok(doc.substr(start, end - start));
    EXPECT_GE(parsed.config->vm_count, 1u);
}

// Random and damaged inputs: whatever the text, parse() returns, keeps every string NUL
// terminated and every count in range. ASan/UBSan turn any overrun into a failure.
TEST(Config, FuzzNeverCrashes) {
    const std::string valid = "\xEF\xBB\xBF# x\r\nserial = 0x3f8\nlog_level = debug # c\n"
                              "[management]\naddress = 10.1.2.3/16\ngateway = 10.1.0.1\n"
                              "[vm a-1]\nkernel = \"k k\"\ncmdline = \"a # b\" \ndisk = d ro\n"
                              "memory = 64M\nvcpus = 2\n[vm b]\nkernel = k\ndisk = d ro\n";
    const char alphabet[] = "[]=#\" \t\r\n\\/.:0123456789abcdefgkmrvx_-\xEF\xBB\xBF\x01";
    std::mt19937 random(1123);
    auto check = [](const std::string& text) {
        Parsed parsed = run(text);
        EXPECT_LE(parsed.diagnostics.count, kMaxDiagnostics);
        EXPECT_EQ(parsed.ok, parsed.diagnostics.empty());
        for (uint32_t i = 0; i < parsed.diagnostics.count; ++i)
            EXPECT_LT(std::strlen(parsed.diagnostics.entries[i].message),
                      sizeof(Diagnostic::message));
        const BootConfig& c = *parsed.config;
        EXPECT_LE(c.vm_count, kMaxVms);
        for (uint32_t v = 0; v < c.vm_count; ++v) {
            EXPECT_LT(std::strlen(c.vms[v].name), kMaxName);
            EXPECT_LT(std::strlen(c.vms[v].kernel), kMaxPath);
            EXPECT_LT(std::strlen(c.vms[v].command_line), kMaxCommandLine);
            EXPECT_LE(c.vms[v].disk_count, kMaxDisksPerVm);
        }
    };
    for (size_t length = 0; length <= valid.size(); ++length)
        check(valid.substr(0, length));
    for (int round = 0; round < 4000; ++round) {
        std::string text;
        if (round % 2 == 0) {
            text = valid;
            int edits = 1 + static_cast<int>(random() % 8);
            for (int i = 0; i < edits; ++i) {
                size_t at = random() % (text.size() + 1);
                switch (random() % 3) {
                case 0:
                    text.insert(at, 1, alphabet[random() % (sizeof(alphabet) - 1)]);
                    break;
                case 1:
                    if (at < text.size())
                        text.erase(at, 1 + random() % 8);
                    break;
                default:
                    if (at < text.size())
                        text[at] = static_cast<char>(random());
                }
            }
        } else {
            size_t length = random() % 400;
            for (size_t i = 0; i < length; ++i)
                text += random() % 4 == 0 ? static_cast<char>(random())
                                          : alphabet[random() % (sizeof(alphabet) - 1)];
        }
        check(text);
    }
}
