// Per-CPU virtualization bring-up: every CPU (BSP and APs) calls enable_on_this_cpu() once
// during start-up. On AMD it detects SVM, sets EFER.SVME and gives the CPU its host save area
// (VM_HSAVE_PA); on Intel it detects VMX, EPT, VPID and unrestricted guest and enters VMX
// operation (VMXON). The result of each CPU is kept so the core can report the BSP's and check
// that all CPUs agree.
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/frame_allocator.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/virt/features.hpp"

#include <stdint.h>

namespace halcyon::virt {

// What the virtualization layer keeps per CPU (PerCpu::virtualization points here).
struct CpuVirtualization {
    VirtFeatures features;
    bool enabled = false;        // SVM: EFER.SVME set and VM_HSAVE_PA written; VMX: VMXON done
    uint64_t host_save_area = 0; // SVM: physical address of the 4 KiB host save area
    uint64_t vmxon_region = 0;   // VMX: physical address of the 4 KiB VMXON region
};

// Detects (and for SVM enables) virtualization on the calling CPU, records the result for `cpu`
// and logs one summary line. A CPU without usable virtualization is not an error (features.kind
// == Kind::none says so); errors are failures to set up what the CPU does offer (e.g. no memory
// for the host save area).
[[nodiscard]] ErrorOr<VirtFeatures> enable_on_this_cpu(x86::PerCpu& cpu,
                                                       mm::FrameAllocator& frames);

// The recorded result for CPU `index`, or nullptr when that CPU has not run enable_on_this_cpu.
[[nodiscard]] const CpuVirtualization* cpu_state(uint32_t index);

// Compares every recorded CPU with the BSP (index 0), logs a warning naming each CPU that
// differs, and returns whether all agree.
[[nodiscard]] bool check_all_cpus_agree(uint32_t cpu_count);

// Implementation parts (svm_enable.cpp, vmx_detect.cpp).
[[nodiscard]] ErrorOr<void> enable_svm(CpuVirtualization& state, mm::FrameAllocator& frames);
[[nodiscard]] VirtFeatures detect_vmx();
[[nodiscard]] ErrorOr<void> enable_vmx(CpuVirtualization& state, mm::FrameAllocator& frames);

} // namespace halcyon::virt
