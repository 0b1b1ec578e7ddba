// The keys of halcyon.cfg, one handler each: check the value, store it, or report what is wrong
// in words that say what would be accepted. See docs/boot-config.md.
#include "boot/config/parser.hpp"

namespace halcyon::config::detail {
namespace {

using text::slice;
using text::Value;

// Most keys take exactly one word (or one quoted string).
bool single(Parser& p, const Value& v, const char* key, std::string_view& out) {
    if (!v.rest.empty()) {
        p.report("unexpected '%.*s' after the value of '%s' (quote values containing spaces)",
                 QUOTED(v.rest), key);
        return false;
    }
    out = v.first;
    return true;
}

// Looks `word` up in `names`; reports `expected` when it is none of them.
bool choose(Parser& p, const Value& v, const char* key, const char* const* names, size_t count,
            const char* expected, size_t& index) {
    std::string_view word;
    if (!single(p, v, key, word))
        return false;
    for (size_t i = 0; i < count; ++i) {
        if (word == names[i]) {
            index = i;
            return true;
        }
    }
    p.report("%s must be %s, not '%.*s'", key, expected, QUOTED(word));
    return false;
}

bool number_in_range(Parser& p, const Value& v, const char* key, uint64_t low, uint64_t high,
                     uint64_t& out) {
    std::string_view word;
    if (!single(p, v, key, word))
        return false;
    uint64_t value;
    if (!text::parse_unsigned(word, ~uint64_t{0}, value) || value < low || value > high) {
        p.report("%s must be a number from %llu to %llu, not '%.*s'", key,
                 static_cast<unsigned long long>(low), static_cast<unsigned long long>(high),
                 QUOTED(word));
        return false;
    }
    out = value;
    return true;
}

// Files are looked up next to halcyon.cfg (ESP directory or TFTP directory), so paths are
// relative, '/'-separated, printable ASCII (the loader turns them into UEFI CHAR16 names and
// TFTP requests) and may not climb out of that directory.
bool check_path(Parser& p, std::string_view path, const char* key) {
    if (path.empty()) {
        p.report("%s needs a file name", key);
        return false;
    }
    if (path.size() >= kMaxPath) {
        p.report("path in '%s' is %zu characters long; at most %zu are supported", key, path.size(),
                 kMaxPath - 1);
        return false;
    }
    for (char c : path) {
        auto byte = static_cast<uint8_t>(c);
        if (byte < 0x20 || byte >= 0x7F) {
            p.report("path in '%s' must be printable ASCII", key);
            return false;
        }
        if (c == '\\') {
            p.report("path in '%s' must use '/' as the separator, not '\\'", key);
            return false;
        }
    }
    // "ds:PATH": a file on the datastore; PATH is absolute on the volume ('/' optional).
    if (is_datastore_path(path)) {
        if (datastore_path(path).empty()) {
            p.report("'%s' names no file after 'ds:'", key);
            return false;
        }
    } else if (path.front() == '/') {
        p.report("path in '%s' must be relative to the directory of halcyon.cfg", key);
        return false;
    }
    for (size_t start = 0; start <= path.size();) {
        size_t end = path.find('/', start);
        if (end == std::string_view::npos)
            end = path.size();
        if (slice(path, start, end - start) == "..") {
            p.report("path in '%s' must not contain '..'", key);
            return false;
        }
        start = end + 1;
    }
    return true;
}

template <size_t N>
void copy(char (&destination)[N], std::string_view source) {
    static_assert(N > 0);
    size_t length = source.size() < N - 1 ? source.size() : N - 1;
    for (size_t i = 0; i < length; ++i)
        destination[i] = source[i];
    destination[length] = '\0';
}

bool path_key(Parser& p, const Value& v, const char* key, char (&destination)[kMaxPath]) {
    std::string_view path;
    if (!single(p, v, key, path) || !check_path(p, path, key))
        return false;
    copy(destination, path);
    return true;
}

// ---- global keys ----

void serial(Parser& p, const Value& v) {
    std::string_view word;
    if (!single(p, v, "serial", word))
        return;
    static constexpr uint16_t kComPorts[] = {0x3F8, 0x2F8, 0x3E8, 0x2E8};
    static constexpr const char* kComNames[] = {"com1", "com2", "com3", "com4"};
    if (word == "none") {
        p.out.serial.enabled = false;
        return;
    }
    for (size_t i = 0; i < 4; ++i) {
        if (word == kComNames[i]) {
            p.out.serial.enabled = true;
            p.out.serial.io_port = kComPorts[i];
            return;
        }
    }
    uint64_t port;
    if (text::parse_unsigned(word, 0xFFFF, port) && port != 0) {
        p.out.serial.enabled = true;
        p.out.serial.io_port = static_cast<uint16_t>(port);
        return;
    }
    p.report("serial must be com1, com2, com3, com4, none or an I/O port such as 0x3f8, not "
             "'%.*s'",
             QUOTED(word));
}

void serial_baud(Parser& p, const Value& v) {
    uint64_t baud;
    if (!number_in_range(p, v, "serial_baud", 1, 115200, baud))
        return;
    // The UART divides a 115200 Hz base clock by an integer divisor.
    if (115200 % baud != 0) {
        p.report("serial_baud %llu is not 115200 divided by a whole number (use 115200, 57600, "
                 "38400, 19200 or 9600)",
                 static_cast<unsigned long long>(baud));
        return;
    }
    p.out.serial.baud = static_cast<uint32_t>(baud);
}

void log_level(Parser& p, const Value& v) {
    static constexpr const char* kNames[] = {"error", "warn", "info", "debug", "trace"};
    size_t index;
    if (choose(p, v, "log_level", kNames, 5, "error, warn, info, debug or trace", index))
        p.out.log_level = static_cast<LogLevel>(index);
}

void crash_test(Parser& p, const Value& v) {
    static constexpr const char* kNames[] = {"none", "page_fault", "invalid_opcode",
                                             "divide_error"};
    size_t index;
    if (choose(p, v, "crash_test", kNames, 4, "none, page_fault, invalid_opcode or divide_error",
               index))
        p.out.crash_test = static_cast<CrashTest>(index);
}

void on_ready(Parser& p, const Value& v) {
    static constexpr const char* kNames[] = {"run", "poweroff"};
    size_t index;
    if (choose(p, v, "on_ready", kNames, 2, "run or poweroff", index))
        p.out.on_ready = static_cast<OnReady>(index);
}

void storage_selftest(Parser& p, const Value& v) {
    static constexpr const char* kNames[] = {"no", "yes"};
    size_t index;
    if (choose(p, v, "storage_selftest", kNames, 2, "yes or no", index))
        p.out.storage_selftest = index == 1;
}

bool is_hex(char c);
bool is_pci_address(std::string_view word);

// auto | none | bb:dd.f | bb:dd.f/PORT (an AHCI port, 0..31).
void datastore(Parser& p, const Value& v) {
    std::string_view word;
    if (!single(p, v, "datastore", word))
        return;
    DatastoreConfig& out = p.out.datastore;
    if (word == "auto" || word == "none") {
        out = DatastoreConfig{};
        out.mode = word == "auto" ? DatastoreMode::automatic : DatastoreMode::none;
        return;
    }
    const size_t slash = word.find('/');
    const std::string_view address = slice(word, 0, slash);
    uint64_t port = kNoDatastorePort;
    const bool port_ok =
        slash == std::string_view::npos || text::parse_unsigned(slice(word, slash + 1), 31, port);
    if (!is_pci_address(address) || !port_ok) {
        p.report("datastore must be auto, none or a disk's PCI address bb:dd.f (with /PORT for an "
                 "AHCI port), not '%.*s'",
                 QUOTED(word));
        return;
    }
    auto hex = [](char c) {
        return static_cast<uint8_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    };
    out.mode = DatastoreMode::device;
    out.bus = static_cast<uint8_t>(hex(address[0]) * 16 + hex(address[1]));
    out.device = static_cast<uint8_t>(hex(address[3]) * 16 + hex(address[4]));
    out.function = hex(address[6]);
    out.port = static_cast<uint32_t>(port);
}

// ---- [management] ----

void address(Parser& p, const Value& v) {
    std::string_view word;
    if (!single(p, v, "address", word))
        return;
    ManagementNetwork& net = p.out.management;
    if (word == "dhcp" || word == "none") {
        net.mode = word == "dhcp" ? AddressMode::dhcp : AddressMode::none;
        return;
    }
    size_t slash = word.find('/');
    uint32_t ip;
    if (!text::parse_ipv4(slice(word, 0, slash), ip)) {
        p.report("address must be dhcp, none or an IPv4 address with prefix length such as "
                 "192.168.1.10/24, not '%.*s'",
                 QUOTED(word));
        return;
    }
    uint64_t prefix;
    if (slash == std::string_view::npos) {
        p.report("address '%.*s' needs a prefix length, e.g. '%.*s/24'", QUOTED(word),
                 QUOTED(word));
        return;
    }
    if (!text::parse_unsigned(slice(word, slash + 1), 32, prefix) || prefix == 0) {
        p.report("prefix length in '%.*s' must be a number from 1 to 32", QUOTED(word));
        return;
    }
    net.mode = AddressMode::static_ipv4;
    net.ipv4_address = ip;
    net.ipv4_prefix_length = static_cast<uint8_t>(prefix);
}

void gateway(Parser& p, const Value& v) {
    std::string_view word;
    if (!single(p, v, "gateway", word))
        return;
    uint32_t ip;
    if (!text::parse_ipv4(word, ip)) {
        p.report("gateway must be an IPv4 address such as 192.168.1.1, not '%.*s'", QUOTED(word));
        return;
    }
    p.out.management.ipv4_gateway = ip;
    p.gateway_line = p.line; // checked against the address once the whole file is read
}

void ipv6(Parser& p, const Value& v) {
    static constexpr const char* kNames[] = {"off", "slaac"};
    size_t index;
    if (choose(p, v, "ipv6", kNames, 2, "slaac or off", index))
        p.out.management.ipv6_slaac = index == 1;
}

void port(Parser& p, const Value& v) {
    uint64_t number;
    if (number_in_range(p, v, "port", 1, 65535, number))
        p.out.management.api_port = static_cast<uint16_t>(number);
}

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// A PCI address "bb:dd.f": bus 00-ff, device 00-1f, function 0-7 (hex).
bool is_pci_address(std::string_view word) {
    if (word.size() != 7 || word[2] != ':' || word[5] != '.')
        return false;
    if (!is_hex(word[0]) || !is_hex(word[1]) || !is_hex(word[3]) || !is_hex(word[4]))
        return false;
    auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    int device_number = nibble(word[3]) * 16 + nibble(word[4]);
    return device_number <= 0x1F && word[6] >= '0' && word[6] <= '7';
}

void nic(Parser& p, const Value& v) {
    std::string_view word;
    if (!single(p, v, "nic", word))
        return;
    if (word != "auto" && !is_pci_address(word)) {
        p.report("nic must be auto or a PCI address bb:dd.f such as 00:03.0, not '%.*s'",
                 QUOTED(word));
        return;
    }
    copy(p.out.management.nic, word);
}

// The key is a secret: a wrong value is reported by its length only, never echoed.
void host_key(Parser& p, const Value& v) {
    std::string_view word;
    if (!single(p, v, "key", word))
        return;
    bool all_hex = word.size() == kHostKeyHexDigits;
    for (size_t i = 0; all_hex && i < word.size(); ++i)
        all_hex = is_hex(word[i]);
    if (!all_hex) {
        p.report("key must be exactly %zu hex digits (a 256-bit key; got %zu characters)",
                 kHostKeyHexDigits, word.size());
        return;
    }
    copy(p.out.management.host_key, word);
}

void management_partition(Parser& p, const Value& v) {
    static constexpr const char* kNames[] = {"no", "yes"};
    size_t index;
    if (choose(p, v, "partition", kNames, 2, "yes or no", index))
        p.out.management.partition = index == 1;
}

// The management partition's identity-mapped RAM: one contiguous, 2 MiB-aligned host region.
void management_memory(Parser& p, const Value& v) {
    std::string_view word;
    if (!single(p, v, "memory", word))
        return;
    constexpr uint64_t kMinimum = 16ULL << 20, kMaximum = 1024ULL << 20, kGranule = 2ULL << 20;
    uint64_t bytes;
    if (!text::parse_size(word, bytes)) {
        p.report("memory must be a size such as 64M, not '%.*s'", QUOTED(word));
        return;
    }
    if (bytes < kMinimum || bytes > kMaximum) {
        p.report("the management partition's memory must be between 16M and 1G, not '%.*s'",
                 QUOTED(word));
        return;
    }
    if (bytes % kGranule != 0) {
        p.report("memory must be a multiple of 2M, not '%.*s'", QUOTED(word));
        return;
    }
    p.out.management.partition_memory = bytes;
}

void management_crash_test(Parser& p, const Value& v) {
    static constexpr const char* kNames[] = {"none", "page_fault"};
    size_t index;
    if (choose(p, v, "crash_test", kNames, 2, "none or page_fault (in [management])", index))
        p.out.management.crash_test = static_cast<ManagementCrashTest>(index);
}

// ---- [vm NAME] ----

void kernel(Parser& p, const Value& v) {
    (void)path_key(p, v, "kernel", p.vm->kernel);
}
void initrd(Parser& p, const Value& v) {
    (void)path_key(p, v, "initrd", p.vm->initrd);
}

void cmdline(Parser& p, const Value& v) {
    if (v.quoted && !v.rest.empty()) {
        p.report("unexpected '%.*s' after the quoted cmdline", QUOTED(v.rest));
        return;
    }
    if (v.whole.size() >= kMaxCommandLine) {
        p.report("cmdline is %zu characters long; at most %zu are supported", v.whole.size(),
                 kMaxCommandLine - 1);
        return;
    }
    if (text::has_control_character(v.whole)) {
        p.report("cmdline contains a control character");
        return;
    }
    copy(p.vm->command_line, v.whole);
}

void memory(Parser& p, const Value& v) {
    std::string_view word;
    if (!single(p, v, "memory", word))
        return;
    constexpr uint64_t kMinimum = 16ULL << 20, kMaximum = 1024ULL << 30, kGranule = 2ULL << 20;
    uint64_t bytes;
    if (!text::parse_size(word, bytes)) {
        p.report("memory must be a size such as 512M or 2G, not '%.*s'", QUOTED(word));
        return;
    }
    if (bytes < kMinimum || bytes > kMaximum) {
        p.report("memory must be between 16M and 1024G, not '%.*s'", QUOTED(word));
        return;
    }
    // Guest memory is mapped with 2 MiB nested pages; a partial page would be wasted or unmapped.
    if (bytes % kGranule != 0) {
        p.report("memory must be a multiple of 2M, not '%.*s'", QUOTED(word));
        return;
    }
    p.vm->memory_bytes = bytes;
}

void vcpus(Parser& p, const Value& v) {
    uint64_t count;
    if (number_in_range(p, v, "vcpus", 1, 64, count))
        p.vm->vcpus = static_cast<uint32_t>(count);
}

// Hyper-V's per-VM processor controls (docs/scheduler.md): relative weight, reserve and limit in
// percent of one CPU per vCPU. That a reserve fits under the limit is checked when the VM starts.
void cpu_weight(Parser& p, const Value& v) {
    uint64_t weight;
    if (number_in_range(p, v, "cpu_weight", 1, 10'000, weight))
        p.vm->cpu_weight = static_cast<uint32_t>(weight);
}

void cpu_reserve(Parser& p, const Value& v) {
    uint64_t percent;
    if (number_in_range(p, v, "cpu_reserve", 0, 100, percent))
        p.vm->cpu_reserve_percent = static_cast<uint32_t>(percent);
}

void cpu_limit(Parser& p, const Value& v) {
    uint64_t percent;
    if (number_in_range(p, v, "cpu_limit", 1, 100, percent))
        p.vm->cpu_limit_percent = static_cast<uint32_t>(percent);
}

void disk(Parser& p, const Value& v) {
    VmConfig& vm = *p.vm;
    if (!check_path(p, v.first, "disk"))
        return;
    bool read_only = false;
    if (v.rest == "ro") {
        read_only = true;
    } else if (!v.rest.empty() && v.rest != "rw") {
        p.report("disk options must be 'ro' or 'rw', not '%.*s'", QUOTED(v.rest));
        return;
    }
    size_t vm_index = p.vm_index();
    for (uint32_t i = 0; i < vm.disk_count; ++i) {
        if (v.first == vm.disks[i].path) {
            p.report("disk '%.*s' is already attached to this VM on line %u", QUOTED(v.first),
                     p.disk_lines[vm_index][i]);
            return;
        }
    }
    if (vm.disk_count == kMaxDisksPerVm) {
        p.report("too many disks: a VM can have at most %zu", kMaxDisksPerVm);
        return;
    }
    p.disk_lines[vm_index][vm.disk_count] = p.line;
    VmDisk& entry = vm.disks[vm.disk_count++];
    copy(entry.path, v.first);
    entry.read_only = read_only;
}

void vmbus(Parser& p, const Value& v) {
    static constexpr const char* kNames[] = {"no", "yes"};
    size_t index;
    if (choose(p, v, "vmbus", kNames, 2, "yes or no", index))
        p.vm->vmbus = index == 1;
}

void privileged(Parser& p, const Value& v) {
    static constexpr const char* kNames[] = {"no", "yes"};
    size_t index;
    if (choose(p, v, "privileged", kNames, 2, "yes or no", index))
        p.vm->privileged = index == 1;
}

void test_devices(Parser& p, const Value& v) {
    static constexpr const char* kNames[] = {"no", "yes"};
    size_t index;
    if (choose(p, v, "test_devices", kNames, 2, "yes or no", index))
        p.vm->test_devices = index == 1;
}

template <typename T, size_t N>
constexpr size_t count_of(const T (&)[N]) {
    return N;
}

constexpr KeySpec kGlobalKeys[] = {
    {"serial", serial, false},       {"serial_baud", serial_baud, false},
    {"log_level", log_level, false}, {"crash_test", crash_test, false},
    {"on_ready", on_ready, false},   {"storage_selftest", storage_selftest, false},
    {"datastore", datastore, false},
};
constexpr KeySpec kManagementKeys[] = {
    {"address", address, false},
    {"gateway", gateway, false},
    {"ipv6", ipv6, false},
    {"port", port, false},
    {"nic", nic, false},
    {"key", host_key, false},
    {"partition", management_partition, false},
    {"memory", management_memory, false},
    {"crash_test", management_crash_test, false},
};
constexpr KeySpec kVmKeys[] = {
    {"kernel", kernel, false},
    {"initrd", initrd, false},
    {"cmdline", cmdline, false},
    {"memory", memory, false},
    {"vcpus", vcpus, false},
    {"cpu_weight", cpu_weight, false},
    {"cpu_reserve", cpu_reserve, false},
    {"cpu_limit", cpu_limit, false},
    {"disk", disk, true},
    {"test_devices", test_devices, false},
    {"vmbus", vmbus, false},
    {"privileged", privileged, false},
};
static_assert(count_of(kGlobalKeys) <= kMaxKeysPerSection);
static_assert(count_of(kManagementKeys) <= kMaxKeysPerSection);
static_assert(count_of(kVmKeys) <= kMaxKeysPerSection);
static_assert(kVmKeys[kVmKernelKey].handle == kernel);

} // namespace

SectionKeys keys_of(Section section) {
    switch (section) {
    case Section::global:
        return {kGlobalKeys, count_of(kGlobalKeys)};
    case Section::management:
        return {kManagementKeys, count_of(kManagementKeys)};
    case Section::vm:
        return {kVmKeys, count_of(kVmKeys)};
    case Section::ignored:
        break;
    }
    return {nullptr, 0};
}

} // namespace halcyon::config::detail
