// The Intel VT-x implementation of vmm::CpuBackend: one VMCS per vCPU, EPT for guest memory,
// VPIDs, and the VMLAUNCH/VMRESUME loop, producing the same neutral exits as the SVM backend
// (exit_decode.hpp has the mapping).
//
// Unlike a VMCB, a VMCS is not memory the host may read and write: VMREAD/VMWRITE reach only
// the VMCS current on the calling CPU. The partition and the VM worker, however, set registers
// from any CPU (a guest reboot rebuilds every vCPU from whichever CPU parked last). So the
// backend keeps the guest's state in ordinary memory and moves it in and out of the VMCS only on
// the CPU that runs the vCPU: what the host changes is written before the next entry
// (system_dirty_), what the guest may have changed is read back lazily after an exit
// (system_stale_). RIP/RSP/RFLAGS and the interruptibility state go both ways on every trip.
//
// A VMCS stays active on the CPU that first ran it; the run loop never migrates vCPUs
// (docs/partition-interface.md), and run() refuses if asked to. A vCPU destroyed on another CPU
// leaves its VMCS page to be VMCLEARed there (vmx_host.hpp).
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/frame_allocator.hpp"
#include "vmm/cpu_backend.hpp"
#include "vmm/vmx/capabilities.hpp"
#include "vmm/vmx/cr_access.hpp"
#include "vmm/vmx/event_injection.hpp"
#include "vmm/vmx/exit_decode.hpp"

#include <stdint.h>

namespace halcyon::vmx::hw {

class VmxVcpu final : public vmm::CpuBackend {
public:
    // Allocates the VMCS, MSR bitmap and virtual-APIC page from `frames` (which must outlive the
    // vCPU) and a VPID. setup.nested_root must be the root of EPT tables.
    [[nodiscard]] static ErrorOr<VmxVcpu*> create(mm::FrameAllocator& frames,
                                                  const vmm::BackendSetup& setup);
    ~VmxVcpu() override;

    [[nodiscard]] ErrorOr<vmm::VcpuExit> run() override;
    [[nodiscard]] vmm::GeneralRegisters& registers() override { return registers_; }
    [[nodiscard]] vmm::SystemRegisters system_registers() const override;
    void set_system_registers(const vmm::SystemRegisters& registers) override;
    void inject_exception(uint8_t vector, bool has_error_code, uint32_t error_code) override;
    void inject_interrupt(uint8_t vector) override;
    void inject_nmi() override;
    [[nodiscard]] bool event_pending() const override;
    [[nodiscard]] bool interrupts_enabled() const override;
    void request_interrupt_window(bool enable) override { window_requested_ = enable; }
    void set_debug_status(uint64_t dr6_bits) override { dr6_ |= dr6_bits; }
    [[nodiscard]] uint64_t guest_tsc() const override;
    void set_guest_tsc(uint64_t value) override;
    void request_tlb_flush() override { flush_ept_ = true; }
    void reset() override;
    [[nodiscard]] uint64_t guest_xcr0() const override { return xcr0_; }

private:
    VmxVcpu(mm::FrameAllocator& frames, const VmxConfiguration& config, uint64_t vmcs,
            uint64_t msr_bitmap, uint64_t virtual_apic, uint16_t vpid);

    // The guest's registers that live outside GeneralRegisters and the VMCS's RIP/RSP/RFLAGS.
    struct SystemState {
        vmm::SystemRegisters visible; // as the guest sees them (CR0/CR4 through the shadows)
        ControlRegisters control;     // CR0/CR4 and shadows as the VMCS holds them, EFER
        uint64_t dr7 = 0x400;
        uint64_t sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0;
    };
    // STAR, LSTAR, CSTAR, SFMASK, KERNEL_GS_BASE: VT-x switches none of them (hw/vmx_host.hpp).
    struct SyscallMsrs {
        uint64_t star = 0, lstar = 0, cstar = 0, sfmask = 0, kernel_gs_base = 0;
    };

    void initialize_software_state();
    // Loads this vCPU's VMCS on the calling CPU (the one it runs on) if another is current.
    [[nodiscard]] ErrorOr<void> make_current(uint32_t cpu) const;
    [[nodiscard]] ErrorOr<void> write_controls();
    void write_system_state();
    void read_system_state() const; // VMCS -> system_ (when system_stale_)
    // The four PDPTEs VM entry loads for a guest in PAE paging outside long mode (EPT makes the
    // CPU take them from the VMCS, not from the guest's CR3): read through the EPT.
    void load_pdptes();
    void prepare_entry_fields();
    void load_syscall_msrs(uint32_t cpu);
    [[nodiscard]] ErrorOr<vmm::VcpuExit> after_exit();
    [[nodiscard]] vmm::VcpuExit entry_failed_exit(uint32_t instruction_error) const;
    void log_entry_failure(uint32_t exit_reason, uint64_t qualification) const;
    // Exit actions the backend carries out itself (vmx_vcpu_exits.cpp).
    void perform(DecodedExit& decoded, uint64_t qualification);
    void emulate_control_register(uint64_t qualification, uint64_t next_rip, vmm::VcpuExit& exit);
    void emulate_xsetbv(uint64_t next_rip);
    void emulate_syscall_msr_write(uint32_t msr, uint64_t value, uint64_t next_rip);
    void take_back_xcr0(uint64_t host_xcr0);
    [[nodiscard]] bool guest_protected_mode() const;

    mm::FrameAllocator* frames_;
    const VmxConfiguration* config_;
    uint64_t vmcs_physical_;
    uint64_t msr_bitmap_physical_;
    uint64_t virtual_apic_physical_;
    uint16_t vpid_;
    uint64_t serial_; // identifies this vCPU in the per-CPU MSR bookkeeping (never reused)
    vmm::BackendSetup setup_{};
    uint64_t ept_pointer_ = 0;

    vmm::GeneralRegisters registers_{};
    mutable SystemState system_{};
    mutable bool system_stale_ = false; // the VMCS holds newer state than system_
    bool system_dirty_ = true;          // system_ holds newer state than the VMCS
    bool controls_written_ = false;     // control and guest fields of the VMCS initialized
    bool launched_ = false;             // VMLAUNCH succeeded since the last VMCLEAR
    uint32_t active_cpu_ = ~0u;         // the CPU the VMCS is active on
    uint64_t cr2_ = 0;                  // VT-x does not switch CR2: vmx_run_guest does
    uint64_t dr6_ = 0xFFFF'0FF0;        // nor DR6
    SyscallMsrs syscall_{};
    bool syscall_dirty_ = true; // syscall_ must be loaded even where this vCPU owns the MSRs
    uint64_t tsc_offset_ = 0;
    uint64_t xcr0_ = 1;
    uint64_t tsc_offset_in_vmcs_ = 0;
    uint32_t primary_in_vmcs_ = 0;
    // Events and windows.
    EventInjection pending_event_{}; // queued by the partition (or the backend: #UD, #GP)
    EventInjection reinjection_{};   // an event whose delivery the last exit interrupted
    bool injected_ = false;          // the last entry delivered pending_event_
    uint64_t pending_debug_ = 0;     // pending debug exceptions as of the last exit
    bool window_requested_ = false;  // by the partition (request_interrupt_window)
    uint32_t interruptibility_ = 0;  // as of the last exit
    uint64_t exit_rip_ = 0;          // RIP at the last exit: a moved RIP ends the STI/MOV-SS shadow
    bool restore_nmi_blocking_ = false;
    bool flush_ept_ = true;
    bool flush_vpid_ = true;
};

} // namespace halcyon::vmx::hw
