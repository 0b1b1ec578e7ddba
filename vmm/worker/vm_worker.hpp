// The VM worker: builds VMs (halcyon.cfg's [vm NAME] sections, New-VM) and runs them, with their
// device models, through the partition-control interface only (vmm/partition/partition.hpp).
// It runs inside the core for now; a later issue moves it into the management partition, which
// is why it must never reach around that interface.
//
// The VM manager (vm_manager.hpp) owns the VMs and their lifecycle; every CPU runs a CpuRunner
// (cpu_runner.hpp) for the life of the host. These are the helpers they share.
#pragma once

#include <stdint.h>

namespace halcyon::worker {

class Vm;

// One line per VM when it is freed: how often the worker was asked for something, the console
// bytes, and the exits by reason.
void log_vm_statistics(const Vm& vm);

// The CPUs that can run vCPUs: the calling CPU (the BSP) first, then every AP serving its
// mailbox. Fills `indices` (x86::kMaxCpus entries) and returns the count.
[[nodiscard]] uint32_t usable_cpus(uint32_t* indices);

} // namespace halcyon::worker
