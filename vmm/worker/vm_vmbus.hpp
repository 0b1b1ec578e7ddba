// The Hyper-V synthetic devices of one VM (`vmbus = yes` in its halcyon.cfg section): the VMBus
// host (vmm/vmbus) on the partition's SynIC, and behind it the VSPs - one synthetic SCSI
// controller (storvsp) holding the VM's disks as LUNs 0..n-1 when it has disks, and the
// integration services Linux's hv_utils drives (shutdown, time sync, heartbeat, KVP).
//
// The host is reached from the guest through the SynIC ports it registers on the partition
// (HvPostMessage / HvSignalEvent, on the vCPU's exit path) and driven by poll(): the worker
// calls it when the guest frees a SynIC message slot (EOM) and from the run loop's periodic
// tick, so messages the SynIC could not take and channels waiting for ring space go on.
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/disk.hpp"
#include "vmm/vmbus/channel_device.hpp"

#include <stdint.h>
#include <string_view>

namespace halcyon::vmm {
class Partition;
namespace vmbus {
class VmbusHost;
namespace ic {
class ShutdownIc;
class HeartbeatIc;
class KvpIc;
class TimesyncIc;
} // namespace ic
} // namespace vmbus
namespace storvsp {
class Controller;
class VhdxBlockDevice;
} // namespace storvsp
} // namespace halcyon::vmm

namespace halcyon::worker {

class Vm;
class VmDisks;
class LockedScsiController;

class VmVmbus {
public:
    // Builds the host and the VSPs for `vm` (its partition and config must exist) and
    // registers the host's ports with the partition's SynIC.
    [[nodiscard]] static ErrorOr<VmVmbus*> create(Vm& vm);
    ~VmVmbus();

    void poll();
    // The periodic work (every kTickMs): poll(), then the integration services' requests
    // (heartbeat, time samples, KVP, retries and timeouts). `now` is the host TSC.
    void tick(uint64_t now);
    [[nodiscard]] uint64_t next_tick() const { return next_tick_; }
    static constexpr uint32_t kTickMs = 100;
    // A guest reboot: every channel, GPADL and the connection go; the devices stay attached.
    void reset();

    [[nodiscard]] const vmm::vmbus::VmbusHost& host() const { return *host_; }

    // The integration services, for the VM manager (Stop-VM, Get-VM). Each has its own lock;
    // they live as long as this object.
    [[nodiscard]] vmm::vmbus::ic::ShutdownIc& shutdown_service();
    [[nodiscard]] const vmm::vmbus::ic::HeartbeatIc& heartbeat_service() const;
    [[nodiscard]] const vmm::vmbus::ic::KvpIc& kvp_service() const;
    [[nodiscard]] const vmm::vmbus::ic::TimesyncIc& timesync_service() const;

    // --- The disks while the VM runs (vm_vmbus_disks.cpp): the VHD verbs' hot-add, hot-remove
    // and online resize (vm_manager_vhd.hpp). Management CPU only. LUN n is the VM's disk slot n
    // (VmDisks); LUNs of hot-removed disks stay empty until a hot-add fills them.
    static constexpr uint32_t kMaxLuns = 8;
    [[nodiscard]] bool has_scsi_controller() const { return scsi_ != nullptr; }
    // The file at `lun` (its path as the VM named it), or nullptr for an empty LUN.
    [[nodiscard]] const char* lun_path(uint32_t lun) const;
    [[nodiscard]] bool lun_read_only(uint32_t lun) const;
    // The open disk's facts; allocated = payload blocks holding data.
    [[nodiscard]] ErrorOr<vhdx::DiskInfo> lun_info(uint32_t lun, uint64_t& allocated);
    // Opens datastore file `path` and attaches it at the lowest empty LUN; the guest is told
    // (ENUMERATE_BUS) and scans it. Returns the LUN.
    [[nodiscard]] ErrorOr<uint32_t> hot_add_disk(std::string_view path, bool read_only);
    // Detaches and closes the disk at `lun`; the guest is told and drops it.
    [[nodiscard]] ErrorOr<void> hot_remove_disk(uint32_t lun);
    // Online resize (vhdx::resize) with a CAPACITY DATA HAS CHANGED unit attention for the guest.
    [[nodiscard]] ErrorOr<void> resize_disk(uint32_t lun, uint64_t size_bytes);

private:
    class RamAccess;
    class HostLog;
    struct Services;
    explicit VmVmbus(Vm& vm) : vm_(vm) {}
    [[nodiscard]] ErrorOr<void> build();
    [[nodiscard]] ErrorOr<void> add_scsi_controller();
    [[nodiscard]] ErrorOr<void> add_integration_services();
    void report_trims();
    void deliver_scsi_notifications();

    Vm& vm_;
    RamAccess* memory_ = nullptr;
    HostLog* host_log_ = nullptr;
    vmm::vmbus::VmbusHost* host_ = nullptr;
    VmDisks* disks_ = nullptr;
    LockedScsiController* scsi_ = nullptr;
    Services* services_ = nullptr;
    uint64_t next_tick_ = 0;
    uint64_t tick_interval_ = 0;
    vmm::storvsp::VhdxBlockDevice* luns_[kMaxLuns] = {}; // null: no disk at that LUN
    uint32_t lun_count_ = 0;                             // LUNs in use lie below this
};

} // namespace halcyon::worker
