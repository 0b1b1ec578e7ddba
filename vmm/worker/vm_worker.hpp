// The VM worker: builds the VMs of halcyon.cfg's [vm NAME] sections and runs them, with their
// device models, through the partition-control interface only (vmm/partition/partition.hpp).
// It runs inside the core for now; a later issue moves it into the management partition, which
// is why it must never reach around that interface.
//
// Scheduling in this slice is cooperative on the calling CPU: the vCPUs of all VMs take turns,
// one intercept per turn (every port access, PAUSE or HLT ends a turn). There is no preemption
// yet, so a guest that spins without any exit keeps the CPU (issue #3's scheduler brings the
// timer).
#pragma once

#include "boot/config/config.hpp"
#include "boot/handoff/handoff.hpp"
#include "mm/frame_allocator.hpp"

#include <stdint.h>

namespace halcyon::worker {

// Starts every VM in `config`, runs them until all have stopped and frees them. Returns how many
// VMs were started (VMs that could not be built are reported and not counted).
uint32_t run_vms(const config::BootConfig& config, const handoff::Handoff& handoff,
                 mm::FrameAllocator& frames);

} // namespace halcyon::worker
