// One VM as the VM manager keeps it (private to vm_manager*.cpp).
#pragma once

#include "vmm/worker/vm_manager.hpp"

#include <optional>

namespace halcyon::worker {

struct VmManager::Record {
    bool used = false;
    config::VmConfig config;
    LifeState state = LifeState::off;
    Vm* vm = nullptr; // the worker's VM while live
    // The serial console: kept across restarts so a client can read what the VM printed before
    // it stopped; written by the VM's COM1 under the VM's lock.
    ConsoleBuffer console;
    uint64_t started_tsc = 0;
    const char* status = ""; // why it last stopped or failed to start (a static string)
    std::optional<GracefulStop> graceful; // a graceful Stop-VM in progress
    // The uploaded files the live VM uses (kernel, initrd, disks), pinned against replacement.
    bool pinned[2 + config::kMaxDisksPerVm] = {};
};

} // namespace halcyon::worker
