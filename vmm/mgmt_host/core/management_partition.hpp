// The management partition in the core (docs/management-partition.md): booted first, as the root
// partition with one vCPU, running the embedded halcyon-mgmt.elf in an identity-mapped RAM
// region, owning the management NIC (its BARs mapped, its configuration space visible through
// the 0xCF8/0xCFC filter), printing its COM1 lines verbatim on the host console, and answering
// its HvCallHalcyonManagement calls with the core's VmHost / VhdHost. A crash is reported and
// the partition rebuilt from the image (RestartBudget); the host's other VMs keep running.
//
// Where it runs: on the management CPU (the VM manager's run loop, normally the BSP). Its
// vendor call reaches the VM manager synchronously from its vCPU's exit, and the manager, the
// VmHost and the datastore's lock all assume they are used from that CPU, one call at a time.
#pragma once

#include "boot/config/config.hpp"
#include "boot/handoff/handoff.hpp"
#include "lib/base/error_or.hpp"
#include "mgmt/api/vhd_host.hpp"
#include "mgmt/api/vm_host.hpp"
#include "mm/frame_allocator.hpp"
#include "vmm/worker/cpu_runner.hpp"

#include <stdint.h>

namespace halcyon::mgmt_host {

struct ManagementStart {
    const config::BootConfig& config;
    const handoff::Handoff& handoff;
    mm::FrameAllocator& frames;
    worker::CpuRunner& runner; // the management CPU's run loop
    mgmt::VmHost& vms;
    mgmt::VhdHost* vhds; // may be null (the VHD verbs answer not supported)
    uint64_t host_memory_bytes = 0;
    uint32_t logical_processors = 0;
    const char* virtualization = "none";
};

// Builds the partition and hands its vCPU to `runner`; fails (nothing left behind but the
// logged reason) when the image is missing or corrupt or memory is short.
[[nodiscard]] ErrorOr<void> start_management_partition(const ManagementStart& start);

} // namespace halcyon::mgmt_host
