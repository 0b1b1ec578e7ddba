// What the management API's storage and integration-service verbs need from the machine
// (issue #7 item 6; docs/management-api.md): New-VHD, Get-VHD, Resize-VHD on the datastore,
// Get-/Add-/Remove-VMHardDiskDrive on a VM's synthetic SCSI controller (while it runs too:
// hot-add, hot-remove, online resize), and Get-VMIntegrationService. The core implements it
// over the VM manager and the datastore (vmm/worker/vm_manager_vhd.hpp); the tests with a fake.
//
// Same conventions as VmHost (vm_host.hpp): every operation returns ErrorOr and the error code
// decides the HTTP status (not_found 404, already_exists and busy 409, invalid_argument and
// out_of_range 400, permission 403, not_supported 501, out_of_memory 507, io/corrupt 500);
// messages are shown to the administrator as they are. Called from the server's thread, one
// call at a time; nothing passed or returned is kept.
//
// Paths reach the host canonical: "ds:/" followed by the file's path on the datastore
// (canonical_vhd_path in vhd_json.hpp), so "ds:a.vhdx", "ds:/a.vhdx" and the URL form "a.vhdx"
// are one file. The datastore (exFAT) ignores case in names; the host compares paths the same
// way.
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/api/fixed_string.hpp"
#include "mgmt/api/vm_host.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::mgmt {

// How many VMs one Get-VHD names as users of the file.
inline constexpr size_t kVhdAttachmentsMax = 4;
// A VM's integration services (Get-VMIntegrationService lists at most this many).
inline constexpr size_t kIntegrationServicesMax = 8;

// Hyper-V's VhdType names: "Fixed", "Dynamic", "Differencing".
enum class VhdType : uint8_t { fixed, dynamic, differencing };
[[nodiscard]] const char* vhd_type_name(VhdType type);

// New-VHD.
struct VhdSpec {
    FilePath path;           // canonical
    uint64_t size_bytes = 0; // virtual size: a multiple of the logical sector size, <= 64 TiB
    VhdType type = VhdType::dynamic; // fixed or dynamic (differencing disks are not made here)
    uint32_t block_size_bytes = 0;   // 0: the VHDX default (32 MiB); else a power of two, 1-256 MiB
    uint32_t logical_sector_bytes = 512;   // 512 or 4096
    uint32_t physical_sector_bytes = 4096; // 512 or 4096
};

// One VM whose disk list names the file.
struct VhdAttachment {
    VmName vm;
    uint32_t lun = 0; // the controller location (see VmHardDiskDrive)
    bool read_only = false;
    bool online = false; // on the running VM's SCSI controller now
};

// Get-VHD.
struct VhdInfo {
    FilePath path;
    VhdType type = VhdType::dynamic;
    uint64_t size_bytes = 0;      // virtual size
    uint64_t file_size_bytes = 0; // the file on the datastore
    uint32_t block_size_bytes = 0;
    uint32_t logical_sector_bytes = 0;
    uint32_t physical_sector_bytes = 0;
    uint64_t blocks = 0;           // payload blocks
    uint64_t allocated_blocks = 0; // payload blocks holding data (fully or partly)
    FixedString<36> disk_id;       // the page 83 id, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
    uint32_t attachment_count = 0; // VMs naming the file (those past the array are not listed)
    VhdAttachment attachments[kVhdAttachmentsMax];
};

// Get-VMHardDiskDrive: one disk of a VM. While the VM is off, `lun` is the disk's position in
// its list (the LUN it gets at the next start); while it runs, the LUN the guest sees. They
// differ only after a hot-remove of a disk that was not the last one (the list closes the gap,
// the running guest keeps its LUNs until the VM next starts).
struct VmHardDiskDrive {
    uint32_t lun = 0;
    FilePath path;
    bool read_only = false;
    bool online = false; // on the running VM's SCSI controller now
};

// Hyper-V's PrimaryStatusDescription of an integration service.
enum class IntegrationStatus : uint8_t {
    vm_off,             // the VM is not running (Hyper-V shows no status then)
    ok,                 // the guest's component answered and keeps answering
    no_contact,         // no answer yet (no driver, still negotiating)
    lost_communication, // it answered before and stopped answering
    protocol_mismatch,  // the guest shares no version with the host
};
// "", "OK", "No Contact", "Lost Communication", "Protocol Mismatch".
[[nodiscard]] const char* integration_status_name(IntegrationStatus status);

struct IntegrationService {
    FixedString<47> name; // Hyper-V's: "Heartbeat", "Key-Value Pair Exchange", "Shutdown", ...
    bool enabled = true;  // offered to the guest
    IntegrationStatus status = IntegrationStatus::vm_off;
    // The message version the guest chose (0.0 before the handshake).
    uint16_t version_major = 0;
    uint16_t version_minor = 0;
    FixedString<31> detail; // more about the status ("OkApplicationsHealthy", "closed", ...)
};

class VhdHost {
public:
    // New-VHD: makes the file (already_exists when it does); answers its Get-VHD.
    [[nodiscard]] virtual ErrorOr<VhdInfo> create_vhd(const VhdSpec& spec) = 0;
    [[nodiscard]] virtual ErrorOr<VhdInfo> get_vhd(std::string_view path) = 0;
    // Resize-VHD: grows or shrinks the virtual size (a shrink that would drop data is refused).
    // A disk on a running VM's controller is resized online and the guest is told.
    [[nodiscard]] virtual ErrorOr<VhdInfo> resize_vhd(std::string_view path,
                                                      uint64_t size_bytes) = 0;

    // Get-VMHardDiskDrive: the VM's disks into `out`; returns how many there are (may exceed
    // out.size(), then only the first ones were written).
    [[nodiscard]] virtual ErrorOr<uint32_t> vm_disks(std::string_view vm,
                                                     std::span<VmHardDiskDrive> out) = 0;
    // Add-VMHardDiskDrive: the file joins the VM's disk list; on a running VM it is also
    // hot-added to the SCSI controller. Answers the new drive.
    [[nodiscard]] virtual ErrorOr<VmHardDiskDrive>
    add_vm_disk(std::string_view vm, std::string_view path, bool read_only) = 0;
    // Remove-VMHardDiskDrive: by LUN (see VmHardDiskDrive); hot-removed from a running VM.
    [[nodiscard]] virtual ErrorOr<void> remove_vm_disk(std::string_view vm, uint32_t lun) = 0;

    // Get-VMIntegrationService: returns how many were written to `out`.
    [[nodiscard]] virtual ErrorOr<uint32_t>
    integration_services(std::string_view vm, std::span<IntegrationService> out) = 0;

protected:
    ~VhdHost() = default;
};

} // namespace halcyon::mgmt
