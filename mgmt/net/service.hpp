// The management network, in the core (`[management] partition = no`) or in the management
// partition (mgmt/partition/): finds the management NIC on PCI (halcyon.cfg's `nic`: auto =
// virtio-net, else e1000e, else e1000; or a PCI address) or takes the one it is given, starts
// its driver, brings up lwIP with DHCP or the static address of halcyon.cfg's [management]
// section, and serves the management API on the configured TCP port. Where it runs is injected
// as a Platform (DMA memory, device-register mapping, delays, free memory, host facts); the
// core's is built by the handoff/frame-allocator overload of start() (core_service.cpp).
//
// Console lines: "HALCYON MGMT KEY <hex>" once when the host key was generated (halcyon.cfg
// has no key yet), and "HALCYON MGMT <address>:<port>" once, when the IPv4 address is up.
//
// Everything is polled from one CPU: call poll() often (every few milliseconds while idle,
// between vCPU turns otherwise). It never blocks.
#pragma once

#include "boot/config/config.hpp"
#include "boot/handoff/handoff.hpp"
#include "drivers/net/device_memory.hpp"
#include "drivers/pci/config_space.hpp"
#include "lib/base/error_or.hpp"
#include "mgmt/api/vhd_host.hpp"
#include "mgmt/api/vm_host.hpp"
#include "mgmt/net/host_only_vm_host.hpp"
#include "mm/frame_allocator.hpp"

#include <optional>
#include <stdint.h>

namespace halcyon::mgmt::net {

struct StartOptions {
    uint64_t tsc_hz = 0; // calibrated TSC frequency; required
    uint32_t logical_processors = 0;
    const char* virtualization = "none"; // "svm", "vmx" or "none", for GET /v1/host
    // What the API serves: the VM manager's VmHost (vmm/worker/vm_manager_host.hpp) on a host
    // that runs VMs; null for the host-only one (host facts, every VM operation 501).
    VmHost* vm_host = nullptr;
    // The storage and integration-service verbs (vmm/worker/vm_manager_vhd.hpp); null: 501.
    VhdHost* vhd_host = nullptr;
};

// Where the network runs: the memory and device access its drivers use, and the host facts the
// host-only VmHost reports. Every reference must outlive the service.
struct Platform {
    drivers::DmaAllocator& dma;
    drivers::MmioMapper& mmio;
    drivers::Delay& delay;
    FreeMemorySource& free_memory;
    uint64_t host_memory_bytes = 0; // usable RAM (GET /v1/host)
    uint64_t host_boot_tsc = 0;     // TSC at core entry, for the host's uptime
    // The NIC to drive, already chosen (the partition's assigned one); nullopt: enumerate PCI
    // and choose by halcyon.cfg's `nic`.
    std::optional<pci::Address> nic;
};

class Service {
public:
    // Non-blocking: receive and answer what has arrived, run lwIP's timers, server timeouts.
    void poll(uint64_t now_tsc);

    // How soon poll() should run again at the latest (TSC ticks): lwIP's timers and TCP
    // retransmissions want ~10 ms granularity.
    [[nodiscard]] uint64_t poll_interval_tsc() const { return tsc_hz_ / 100; }

    // True once "HALCYON MGMT <address>:<port>" was printed (the API is reachable).
    [[nodiscard]] bool announced() const;

private:
    friend ErrorOr<Service*> start(const config::ManagementNetwork&, const Platform&,
                                   const StartOptions&);
    uint64_t tsc_hz_ = 0;
    uint64_t last_server_poll_ms_ = 0;
};

// Brings the management network up on `platform`, or says why not (no NIC, no config). Once.
[[nodiscard]] ErrorOr<Service*> start(const config::ManagementNetwork& management,
                                      const Platform& platform, const StartOptions& options);

// The core's way in (core_service.cpp): DMA from `frames`, MMIO in the core's page tables.
[[nodiscard]] ErrorOr<Service*> start(const config::BootConfig& config,
                                      const handoff::Handoff& handoff, mm::FrameAllocator& frames,
                                      const StartOptions& options);

// The started service, or null (not started, or it failed): for the run loops that poll it.
[[nodiscard]] Service* active();

} // namespace halcyon::mgmt::net
