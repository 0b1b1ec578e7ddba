// halcyon.cfg: the boot configuration, read by the loader (to know which files to bring) and
// again by the core (for its own settings). The format is documented in docs/boot-config.md.
// Pure code, no allocation: the result is a fixed-size structure and a list of diagnostics, each
// naming the line it is about, so a bad file is reported precisely and never half-applied.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::config {

inline constexpr size_t kMaxVms = 16;
inline constexpr size_t kMaxDisksPerVm = 8;
inline constexpr size_t kMaxPath = 112; // matches handoff::Module::name
inline constexpr size_t kMaxCommandLine = 1024;
inline constexpr size_t kMaxName = 32;
inline constexpr size_t kHostKeyHexDigits = 64; // a 256-bit key
inline constexpr size_t kMaxDiagnostics = 16;

enum class LogLevel : uint8_t { error = 0, warn = 1, info = 2, debug = 3, trace = 4 };

// A deliberate fault for testing the crash report path; `none` in every normal configuration.
enum class CrashTest : uint8_t { none, page_fault, invalid_opcode, divide_error };

// What the core does once every CPU is up: keep running (the normal case), or power the machine
// off through ACPI (used by tests and by `halcyon run --poweroff`).
enum class OnReady : uint8_t { run, poweroff };

struct SerialConfig {
    bool enabled = true;
    uint16_t io_port = 0x3F8; // "com1".."com4" or a port number
    uint32_t baud = 115200;
};

enum class AddressMode : uint8_t { none, dhcp, static_ipv4 };

// Which disk holds the datastore (docs/datastore.md): `auto` takes the first disk whose whole
// device or partition holds an exFAT volume labelled kDatastoreLabel; a PCI address (with an
// AHCI port after '/') names the disk, whatever its volume's label; `none` mounts nothing.
enum class DatastoreMode : uint8_t { automatic, none, device };
inline constexpr const char* kDatastoreLabel = "HALCYON-DS";
inline constexpr uint32_t kNoDatastorePort = 0xFFFF'FFFF;

struct DatastoreConfig {
    DatastoreMode mode = DatastoreMode::automatic;
    uint8_t bus = 0;
    uint8_t device = 0;
    uint8_t function = 0;
    uint32_t port = kNoDatastorePort; // AHCI port (0..31), or none
};

// Files named "ds:PATH" (kernel, initrd, disk) are on the datastore, not next to the loader: the
// loaders skip them and the core opens them on the mounted exFAT volume.
inline constexpr std::string_view kDatastorePrefix = "ds:";
[[nodiscard]] constexpr bool is_datastore_path(std::string_view path) {
    return path.substr(0, kDatastorePrefix.size()) == kDatastorePrefix;
}
// The path on the volume ("ds:/vms/a.vhdx" and "ds:vms/a.vhdx" -> "vms/a.vhdx").
[[nodiscard]] constexpr std::string_view datastore_path(std::string_view path) {
    path.remove_prefix(kDatastorePrefix.size());
    while (!path.empty() && path.front() == '/')
        path.remove_prefix(1);
    return path;
}

enum class ManagementCrashTest : uint8_t { none, page_fault };

struct ManagementNetwork {
    AddressMode mode = AddressMode::dhcp;
    uint32_t ipv4_address = 0; // host byte order
    uint8_t ipv4_prefix_length = 0;
    uint32_t ipv4_gateway = 0;
    bool ipv6_slaac = true;
    uint16_t api_port = 8443;
    char nic[kMaxName] = "auto"; // "auto" or a PCI address "bb:dd.f"
    // The API's host key as 64 hex digits (mgmt/api/auth.hpp), or empty: a fresh key is then
    // generated at boot and shown once on the console.
    char host_key[kHostKeyHexDigits + 1] = {};
    // Where the network stack runs (docs/management-partition.md): in the management partition
    // (`partition = yes`: the core boots halcyon-mgmt.elf as the root partition, identity-mapped
    // in `partition_memory` bytes, and hands it the NIC) or in the core itself (`no`).
    bool partition = true;
    uint64_t partition_memory = 64ULL << 20; // `memory`: 2 MiB multiple, at least 16 MiB
    // `crash_test = page_fault` (tests only): the partition faults 5 s after it serves, on its
    // first run, so the core's crash report and restart can be checked.
    ManagementCrashTest crash_test = ManagementCrashTest::none;
};

struct VmDisk {
    char path[kMaxPath] = {};
    bool read_only = false;
};

struct VmConfig {
    char name[kMaxName] = {};
    char kernel[kMaxPath] = {};
    char initrd[kMaxPath] = {};
    char command_line[kMaxCommandLine] = {};
    uint64_t memory_bytes = 256ULL << 20;
    uint32_t vcpus = 1;
    uint32_t cpu_weight = 100;        // relative weight, 1..10000
    uint32_t cpu_reserve_percent = 0; // of one CPU per vCPU, 0..100
    uint32_t cpu_limit_percent = 100; // of one CPU per vCPU, 1..100 (100: no limit)
    uint32_t disk_count = 0;
    VmDisk disks[kMaxDisksPerVm];
    // Test-only device models (vmm/worker/testing/, e.g. the MMIO scratch page at 0xFEB00000)
    // that the test guests use to exercise Halcyon's emulation; never in a production VM.
    bool test_devices = false;
    // The Hyper-V synthetic bus: the VMBus ACPI device in a Linux VM's DSDT and the VMBus host
    // (SynIC connections, offers, storvsp for the disks, integration services).
    bool vmbus = false;
    // The root partition (docs/management-partition.md): the VM may create child partitions
    // and give them its memory through the privileged hypercalls. One vCPU for now.
    bool privileged = false;
    uint32_t first_line = 0; // line of its [vm NAME] header, for later diagnostics
};

struct BootConfig {
    SerialConfig serial;
    LogLevel log_level = LogLevel::info;
    ManagementNetwork management;
    CrashTest crash_test = CrashTest::none;
    OnReady on_ready = OnReady::run;
    // The scratch-disk self-test at boot (drivers/block/selftest.hpp): writes a pattern to the
    // last MiB of every disk whose sector 0 carries the scratch marker. For tests only.
    bool storage_selftest = false;
    DatastoreConfig datastore;
    uint32_t vm_count = 0;
    VmConfig vms[kMaxVms];
};

struct Diagnostic {
    uint32_t line; // 1-based
    char message[120];
};

struct Diagnostics {
    uint32_t count = 0;   // diagnostics stored (at most kMaxDiagnostics)
    uint32_t dropped = 0; // further diagnostics not stored
    Diagnostic entries[kMaxDiagnostics];

    [[nodiscard]] bool empty() const { return count == 0 && dropped == 0; }
};

// Parses `text` into `out` (which starts from defaults). Every unknown key, malformed line,
// duplicate or out-of-range value adds a diagnostic; returns true only when there are none.
// `out` is meaningful only on success.
[[nodiscard]] bool parse(std::string_view text, BootConfig& out, Diagnostics& diagnostics);

[[nodiscard]] const char* log_level_name(LogLevel level);

} // namespace halcyon::config
