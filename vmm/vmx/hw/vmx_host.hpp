// What the VT-x backend keeps per physical CPU and machine-wide: the capability MSRs and the
// configuration computed from them, which VMCS is current on each CPU, whose syscall MSRs each
// CPU holds, VMCS pages waiting to be cleared on the CPU that last ran them, and the VPID pool.
// Core only.
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/frame_allocator.hpp"
#include "vmm/vmx/capabilities.hpp"

#include <optional>
#include <stdint.h>

namespace halcyon::vmx::hw {

// Reads the capability MSRs of the calling CPU, each conditional one only where it exists.
[[nodiscard]] VmxMsrValues read_capability_msrs();

// The configuration every vCPU is built with: recorded once, by the first CPU that enters VMX
// operation (virt::enable_vmx; the others must agree, virt::check_all_cpus_agree).
void record_configuration(const VmxConfiguration& configuration);
[[nodiscard]] const VmxConfiguration* configuration();

struct CpuState {
    uint64_t current_vmcs = 0; // VMPTRLD's operand last executed here (0: none)
    // The vCPU (VmxVcpu::serial) whose STAR/LSTAR/CSTAR/SFMASK/KERNEL_GS_BASE this CPU holds:
    // VT-x does not switch them and the host never uses them, so they are only reloaded when a
    // different vCPU enters the guest here.
    uint64_t syscall_msrs_owner = 0;
    uint64_t dr6 = 0; // what this CPU's DR6 holds (a guest's, the host does not use it)
};

[[nodiscard]] CpuState& cpu_state(uint32_t cpu);

// A VMCS must be VMCLEARed on the CPU where it is active before its memory is reused (the CPU
// may cache it and write it back later). A vCPU destroyed elsewhere queues its VMCS page here;
// the next guest entry on `cpu` clears and frees it.
void defer_release(uint32_t cpu, uint64_t vmcs_physical, mm::FrameAllocator& frames);
void release_deferred(uint32_t cpu);

[[nodiscard]] std::optional<uint16_t> allocate_vpid();
void release_vpid(uint16_t vpid);

// The host-state area of the current VMCS for the calling CPU (control registers, selectors,
// bases, PAT, EFER, the exit RIP); HOST_RSP is written by vmx_run_guest on every entry.
[[nodiscard]] bool write_host_state();

} // namespace halcyon::vmx::hw
