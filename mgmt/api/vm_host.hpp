// What the management API needs from the machine: the partition implements VmHost over the VM
// worker and the core's hypercalls; the tests implement it with a fake. Every operation returns
// ErrorOr, and the error code decides the HTTP status (see api_errors.hpp):
//   not_found -> 404, already_exists -> 409, busy (wrong state for the operation) -> 409,
//   invalid_argument/out_of_range -> 400, permission -> 403, out_of_memory -> 507,
//   not_supported -> 501, timeout -> 504, io/corrupt -> 500.
// Error messages are shown to the administrator as they are.
//
// The server calls VmHost from the thread (poll loop) that feeds it bytes, one call at a time,
// and never keeps references into the values passed or returned.
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/api/fixed_string.hpp"

#include <optional>
#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::mgmt {

// Same bounds as halcyon.cfg (boot/config/config.hpp).
inline constexpr size_t kVmNameMax = 31;
inline constexpr size_t kFilePathMax = 111;
inline constexpr size_t kCommandLineMax = 1023;
inline constexpr size_t kVmDisksMax = 8;
inline constexpr uint32_t kVmVcpusMax = 64;
inline constexpr uint64_t kVmMemoryMin = 16ULL << 20;
inline constexpr uint64_t kVmMemoryMax = 1024ULL << 30;
inline constexpr uint64_t kVmMemoryGranule = 2ULL << 20;

using VmName = FixedString<kVmNameMax>;
using FilePath = FixedString<kFilePathMax>;
using CommandLine = FixedString<kCommandLineMax>;

// Hyper-V's VM states, as Get-VM shows them.
enum class VmState : uint8_t { off, starting, running, stopping, suspended, crashed };
[[nodiscard]] const char* vm_state_name(VmState state); // "Off", "Running", ...

enum class StopMode : uint8_t {
    graceful, // ACPI power button; the guest shuts down on its own
    force,    // power off now, as Stop-VM -Force after a failed graceful stop
    turn_off, // pull the plug (Stop-VM -TurnOff)
};

struct VmDisk {
    FilePath path;
    bool read_only = false;
};

// Everything New-VM sets.
struct VmSpec {
    VmName name;
    uint64_t memory_bytes = 256ULL << 20;
    uint32_t vcpus = 1;
    FilePath kernel;
    FilePath initrd;
    CommandLine command_line;
    uint32_t disk_count = 0;
    VmDisk disks[kVmDisksMax];
    // The Hyper-V synthetic bus (VMBus) and its integration services (shutdown, time sync,
    // heartbeat, KVP) and synthetic SCSI. On by default, as every Hyper-V VM has it; halcyon.cfg's
    // `vmbus` key says the same for configured VMs.
    bool vmbus = true;
};

// What the integration services tell about a running guest (docs/integration-services.md).
struct VmGuestInfo {
    // Hyper-V's VMHeartbeatStatus name ("OkApplicationsUnknown", "NoContact",
    // "LostCommunication", ...); empty when the VM has no heartbeat service (off, no VMBus).
    FixedString<31> heartbeat;
    FixedString<255> computer_name; // KVP FullyQualifiedDomainName; empty until the guest says
    // KVP NetworkAddressIPv4 and NetworkAddressIPv6, each a ';'-separated list; empty if unknown.
    FixedString<255> ipv4_addresses;
    FixedString<255> ipv6_addresses;
};

struct VmInfo {
    VmSpec spec;
    VmState state = VmState::off;
    uint64_t uptime_ms = 0; // since the last start; 0 when off
    VmGuestInfo guest;
    // Why the VM last stopped or failed to start ("the guest powered off", "triple fault");
    // empty while it runs and before its first start.
    FixedString<127> status;
};

// Set-VM: only the fields present change. `disks` replaces the whole list when present.
struct VmChanges {
    std::optional<uint64_t> memory_bytes;
    std::optional<uint32_t> vcpus;
    std::optional<FilePath> kernel;
    std::optional<FilePath> initrd;
    std::optional<CommandLine> command_line;
    bool disks_present = false;
    uint32_t disk_count = 0;
    VmDisk disks[kVmDisksMax];
    std::optional<bool> vmbus;
};

struct HostInfo {
    FixedString<63> name;
    FixedString<31> version;
    uint32_t logical_processors = 0;
    uint64_t memory_bytes = 0;
    uint64_t memory_free_bytes = 0;
    uint64_t uptime_ms = 0;
    FixedString<15> virtualization; // "svm", "vmx" or "none"
};

// A read from a byte stream addressed by absolute offsets (the host log, a VM console). Older
// bytes drop out of a ring buffer, so a reader asking for `since` may get data from `first`
// (> since: bytes were lost) up to `next` (where to continue). A `since` past the end returns no
// bytes with first = next = the end (clients use that to find the end).
struct StreamRead {
    size_t length = 0;  // bytes written to the caller's buffer
    uint64_t first = 0; // offset of the first byte written
    uint64_t next = 0;  // offset after the last byte written
};

// An uploaded file (a kernel or initrd) as the host now holds it.
struct FileStatus {
    uint64_t size = 0;     // declared total size
    uint64_t received = 0; // bytes stored so far
};

class VmHost {
public:
    [[nodiscard]] virtual ErrorOr<HostInfo> host_info() = 0;

    [[nodiscard]] virtual uint32_t vm_count() = 0;
    // VMs in a stable order (creation); not_found past the end.
    [[nodiscard]] virtual ErrorOr<VmInfo> vm_at(uint32_t index) = 0;
    [[nodiscard]] virtual ErrorOr<VmInfo> find_vm(std::string_view name) = 0;

    // The spec is already validated against the bounds above; already_exists for a taken name.
    [[nodiscard]] virtual ErrorOr<void> create_vm(const VmSpec& spec) = 0;
    [[nodiscard]] virtual ErrorOr<void> set_vm(std::string_view name, const VmChanges& changes) = 0;
    [[nodiscard]] virtual ErrorOr<void> remove_vm(std::string_view name) = 0;

    // State changes; busy when the VM is not in a state that allows them.
    [[nodiscard]] virtual ErrorOr<void> start_vm(std::string_view name) = 0;
    [[nodiscard]] virtual ErrorOr<void> stop_vm(std::string_view name, StopMode mode) = 0;
    [[nodiscard]] virtual ErrorOr<void> restart_vm(std::string_view name) = 0;
    [[nodiscard]] virtual ErrorOr<void> suspend_vm(std::string_view name) = 0;
    [[nodiscard]] virtual ErrorOr<void> resume_vm(std::string_view name) = 0;

    // The host log (the core's and the partition's log lines) from offset `since`.
    [[nodiscard]] virtual ErrorOr<StreamRead> read_log(uint64_t since, std::span<char> out) = 0;
    // A VM's serial console output from offset `since`.
    [[nodiscard]] virtual ErrorOr<StreamRead> read_console(std::string_view name, uint64_t since,
                                                           std::span<char> out) = 0;
    // Keyboard input for a VM's serial console; returns how many bytes were queued.
    [[nodiscard]] virtual ErrorOr<size_t> write_console(std::string_view name,
                                                        std::span<const uint8_t> input) = 0;

    // Stores `data` at `offset` of file `path` (a name as in halcyon.cfg), whose complete size is
    // `total_size`. Chunks may arrive in any order; a chunk at offset 0 of a file that exists
    // starts it over.
    [[nodiscard]] virtual ErrorOr<FileStatus> write_file(std::string_view path, uint64_t offset,
                                                         uint64_t total_size,
                                                         std::span<const uint8_t> data) = 0;

protected:
    // Not deletable through the interface: the partition owns its VmHost statically.
    ~VmHost() = default;
};

} // namespace halcyon::mgmt
