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
#include "vmm/vmbus/channel_device.hpp"

#include <stdint.h>

namespace halcyon::vmm {
class Partition;
namespace vmbus {
class VmbusHost;
}
namespace storvsp {
class Controller;
class VhdxBlockDevice;
} // namespace storvsp
} // namespace halcyon::vmm

namespace halcyon::worker {

class Vm;
class VmDisks;

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

private:
    class RamAccess;
    struct Services;
    explicit VmVmbus(Vm& vm) : vm_(vm) {}
    [[nodiscard]] ErrorOr<void> build();
    [[nodiscard]] ErrorOr<void> add_scsi_controller();
    [[nodiscard]] ErrorOr<void> add_integration_services();

    Vm& vm_;
    RamAccess* memory_ = nullptr;
    vmm::vmbus::VmbusHost* host_ = nullptr;
    VmDisks* disks_ = nullptr;
    vmm::storvsp::Controller* scsi_ = nullptr;
    Services* services_ = nullptr;
    uint64_t next_tick_ = 0;
    uint64_t tick_interval_ = 0;
    vmm::storvsp::VhdxBlockDevice* luns_[8] = {};
    uint32_t lun_count_ = 0;
};

} // namespace halcyon::worker
