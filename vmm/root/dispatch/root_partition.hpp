// The root partition in the core (docs/management-partition.md): which partition holds the
// privilege, and the entry of its privileged hypercalls. The VM worker makes a `privileged =
// yes` VM the root; the partition's hypercall exit (partition_hyperv.cpp) sends every
// privileged call code here, from any partition - the root's are carried out, everybody
// else's refused with HV_STATUS_ACCESS_DENIED and a log line.
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/frame_allocator.hpp"
#include "vmm/hyperv/hypercall.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::vmm {
class Partition;
}

namespace halcyon::vmm::root {

// Makes `partition` a root partition: it may create child partitions and give them its memory.
// For now a root has exactly one vCPU (moving memory out of its view needs no TLB shootdown
// then: its only vCPU is the caller, in its exit path).
[[nodiscard]] ErrorOr<void> make_root(Partition& partition, mm::FrameAllocator& frames);
// Before the root reboots: every child is deleted, its memory and deposits back in the root's
// view (so the reboot's reset zeroes all of it).
void reset_root(Partition& partition);
// Before the root partition is destroyed: every child is destroyed with the memory it holds
// (freed to the frame allocator), deposits freed, the privilege forgotten. Nothing for a
// partition that is not a root.
void release_root(Partition& partition);
[[nodiscard]] bool is_root(const Partition& partition);

// The management partition's way into the core (docs/management-partition.md): who answers its
// vendor call HvCallHalcyonManagement (0x7F00). The dispatcher has checked and copied the
// request out of the partition's memory; the answer is copied back by it.
class ManagementService {
public:
    // `request` and `response` are the core's buffers (never the partition's memory). Returns
    // the response's length; an error only when no answer at all can be written.
    [[nodiscard]] virtual ErrorOr<size_t> serve(std::span<const uint8_t> request,
                                                std::span<uint8_t> response) = 0;

protected:
    ~ManagementService() = default;
};
// Makes the root partition `partition` the management partition: its HvCallHalcyonManagement
// calls go to `service` (which must outlive the root, or be removed with nullptr first). Every
// other partition - roots included - gets HV_STATUS_ACCESS_DENIED for that code.
[[nodiscard]] ErrorOr<void> set_management_service(Partition& partition,
                                                   ManagementService* service);

struct Completion {
    uint64_t result = 0;    // the hypercall result value
    bool ran_child = false; // a child's vCPU ran on this CPU (its FPU state is live here, the
                            // preemption timer was re-armed for it)
    bool yield = false;     // that run ended for the host (preemption, a kick): yield the CPU
};

// A privileged hypercall (calls.hpp's is_privileged_call) from vCPU `vp` of `caller`, with its
// input value, hypercall page enabled, at CPL 0. `deadline`: the TSC by which the caller's CPU
// must be back with its scheduler (a child's vCPU run by HvDispatchVp stops then);
// `refusals`: the caller's count of refused calls (their log lines are limited).
[[nodiscard]] Completion privileged_hypercall(Partition& caller, uint32_t vp,
                                              const hyperv::HypercallInput& input,
                                              uint64_t deadline, uint32_t& refusals);

} // namespace halcyon::vmm::root
