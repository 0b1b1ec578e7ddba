// The AMD-V implementation of vmm::CpuBackend: one VMCB, its permission maps and the VMRUN
// loop for one vCPU.
//
// Works without the SVM features QEMU's TCG lacks (protocol notes 4.1): no NRIP save (the layer
// above finds instruction lengths by decoding), no decode assists, no VMCB clean bits (every
// field is written as if dirty, i.e. clean_bits stays 0), no flush-by-ASID (TLB_CONTROL is 0 or
// "flush all"). XSETBV is intercepted and emulated (the guest's XCR0 is switched around VMRUN).
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/frame_allocator.hpp"
#include "vmm/cpu_backend.hpp"
#include "vmm/svm/vmcb.hpp"

#include <stdint.h>

namespace halcyon::svm {

class SvmVcpu final : public vmm::CpuBackend {
public:
    // Allocates the VMCB and permission maps from `frames` (which must outlive the vCPU).
    [[nodiscard]] static ErrorOr<SvmVcpu*> create(mm::FrameAllocator& frames,
                                                  const vmm::BackendSetup& setup);
    ~SvmVcpu() override;

    [[nodiscard]] ErrorOr<vmm::VcpuExit> run() override;
    [[nodiscard]] vmm::GeneralRegisters& registers() override { return registers_; }
    [[nodiscard]] vmm::SystemRegisters system_registers() const override;
    void set_system_registers(const vmm::SystemRegisters& registers) override;
    void inject_exception(uint8_t vector, bool has_error_code, uint32_t error_code) override;
    void inject_interrupt(uint8_t vector) override;
    void inject_nmi() override;
    [[nodiscard]] bool event_pending() const override;
    [[nodiscard]] bool interrupts_enabled() const override;
    void request_interrupt_window(bool enable) override;
    void set_debug_status(uint64_t dr6_bits) override { vmcb().state.dr6 |= dr6_bits; }
    [[nodiscard]] uint64_t guest_tsc() const override;
    void set_guest_tsc(uint64_t value) override;
    void request_tlb_flush() override { flush_pending_ = true; }
    void reset() override;
    [[nodiscard]] uint64_t guest_xcr0() const override { return xcr0_; }

private:
    SvmVcpu(mm::FrameAllocator& frames, uint64_t vmcb, uint64_t iopm, uint64_t msrpm);
    void configure_controls(const vmm::BackendSetup& setup);
    [[nodiscard]] Vmcb& vmcb() const;
    // Turns the exit the VMCB describes into a VcpuExit (handling SVM-only cases itself).
    [[nodiscard]] vmm::VcpuExit decode_exit();
    // Emulates the XSETBV at RIP (vmm::check_xsetbv decides; the value becomes xcr0_).
    void emulate_xsetbv();
    // After an exit: the guest's XCR0 into xcr0_, the host's into XCR0.
    void take_back_xcr0(uint64_t host_xcr0);
    [[nodiscard]] ErrorOr<uint64_t> host_save_page();

    mm::FrameAllocator* frames_;
    uint64_t vmcb_physical_;
    uint64_t iopm_physical_;
    uint64_t msrpm_physical_;
    vmm::GeneralRegisters registers_{};
    bool flush_pending_ = true; // a new ASID user: start with a clean TLB
    uint32_t last_cpu_ = ~0u;   // the physical CPU that ran this VMCB last
    // The guest's XCR0: VMRUN does not switch it, so run() loads it before entry and puts the
    // host's back after the exit. Always a value XSETBV accepts on this host, with components
    // vmm::guest_xcr0_components() only.
    uint64_t xcr0_ = 1;
    vmm::BackendSetup setup_{};
};

} // namespace halcyon::svm
