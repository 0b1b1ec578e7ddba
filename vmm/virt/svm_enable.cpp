// AMD SVM: detection from CPUID/VM_CR and the per-CPU enabling that must precede any VMRUN
// (AMD APM vol. 2, 15.4 "Enabling SVM"): EFER.SVME = 1 and VM_HSAVE_PA = a 4 KiB page where
// VMRUN stores host state.
#include "boot/handoff/handoff.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/virt/virt_cpu.hpp"

#include <string.h>

namespace halcyon::virt {
namespace {

constexpr uint64_t kEferSvme = 1ull << 12;

[[nodiscard]] CpuidRegisters as_registers(const x86::CpuidResult& r) {
    return CpuidRegisters{r.eax, r.ebx, r.ecx, r.edx};
}

} // namespace

ErrorOr<void> enable_svm(CpuVirtualization& state, mm::FrameAllocator& frames) {
    if (x86::cpuid(0x8000'0000).eax < 0x8000'000A)
        return Error(ErrorCode::not_supported, "CPUID leaf 0x8000000A (SVM features) missing");
    const uint64_t vm_cr = x86::rdmsr(x86::msr::kVmCr);
    state.features = decode_svm(as_registers(x86::cpuid(0x8000'000A)), vm_cr);
    if (state.features.kind != Kind::svm)
        return {}; // disabled by firmware: reported through features, nothing to enable

    if (state.host_save_area == 0) {
        const uint64_t page = TRY(frames.allocate(1));
        // The APM asks software not to touch the save area's contents; start from zeros so
        // nothing stale ever looks like host state.
        memset(reinterpret_cast<void*>(handoff::kDirectMapBase + page), 0, mm::kPageSize);
        state.host_save_area = page;
    }
    x86::wrmsr(x86::msr::kEfer, x86::rdmsr(x86::msr::kEfer) | kEferSvme);
    x86::wrmsr(x86::msr::kVmHsavePa, state.host_save_area);
    state.enabled = true;
    return {};
}

} // namespace halcyon::virt
