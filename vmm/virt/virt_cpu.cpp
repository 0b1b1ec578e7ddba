// Per-CPU virtualization bring-up and the cross-CPU agreement check (see virt_cpu.hpp).
#include "vmm/virt/virt_cpu.hpp"

#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/core/log.hpp"

namespace halcyon::virt {
namespace {

// Static rather than heap: fixed size, and no allocation on the AP start-up path.
CpuVirtualization g_states[x86::kMaxCpus];
bool g_recorded[x86::kMaxCpus];

[[nodiscard]] CpuidRegisters as_registers(const x86::CpuidResult& r) {
    return CpuidRegisters{r.eax, r.ebx, r.ecx, r.edx};
}

void log_summary(const VirtFeatures& f, bool svm_vendor, const x86::CpuidResult& svm_leaf) {
    switch (f.kind) {
    case Kind::svm:
        log::info("virt: SVM rev %u enabled, %u ASIDs, npt=%d nrip_save=%d decode_assists=%d "
                  "vmcb_clean=%d flush_by_asid=%d vgif=%d avic=%d pause_filter=%d "
                  "(CPUID 8000000A edx=%#x)",
                  f.revision, f.asids, f.npt_or_ept, f.nrip_save, f.decode_assists, f.vmcb_clean,
                  f.flush_by_asid, f.vgif, f.avic, f.pause_filter, svm_leaf.edx);
        return;
    case Kind::vmx:
        log::info("virt: VMX (VMCS rev %u) enabled, ept=%d vpid=%d unrestricted_guest=%d "
                  "ept_4level=%d ept_wb=%d ept_2m=%d feature_control=%s",
                  f.revision, f.npt_or_ept, f.vpid, f.unrestricted_guest, f.ept_4level_walk,
                  f.ept_write_back, f.ept_2mb_pages,
                  f.feature_control_locked ? "locked" : "unlocked");
        return;
    case Kind::none:
        if (f.disabled_by_firmware)
            log::warn("virt: none -- the CPU has it but firmware disabled it (%s)",
                      svm_vendor ? "VM_CR.SVMDIS" : "IA32_FEATURE_CONTROL locked without VMX");
        else
            log::warn("virt: none -- CPUID offers neither SVM nor VMX");
        return;
    }
}

} // namespace

ErrorOr<VirtFeatures> enable_on_this_cpu(x86::PerCpu& cpu, mm::FrameAllocator& frames) {
    if (cpu.index >= x86::kMaxCpus)
        return Error(ErrorCode::out_of_range, "CPU index beyond kMaxCpus");
    CpuVirtualization& state = g_states[cpu.index];
    cpu.virtualization = &state;

    const CpuidRegisters leaf_0 = as_registers(x86::cpuid(0));
    const bool has_extended_leaf = x86::cpuid(0x8000'0000).eax >= 0x8000'0001;
    const bool svm = cpuid_vendor_is_amd(leaf_0) && has_extended_leaf &&
                     cpuid_has_svm(as_registers(x86::cpuid(0x8000'0001)));
    const bool vmx = !svm && leaf_0.eax >= 1 && cpuid_has_vmx(as_registers(x86::cpuid(1)));

    ErrorOr<void> result = {};
    state.features = VirtFeatures{};
    if (svm)
        result = enable_svm(state, frames);
    else if (vmx)
        result = enable_vmx(state, frames);
    g_recorded[cpu.index] = true;
    if (result.is_error())
        return result.release_error();

    log_summary(state.features, svm, svm ? x86::cpuid(0x8000'000A) : x86::CpuidResult{});
    return state.features;
}

const CpuVirtualization* cpu_state(uint32_t index) {
    if (index >= x86::kMaxCpus || !g_recorded[index])
        return nullptr;
    return &g_states[index];
}

bool check_all_cpus_agree(uint32_t cpu_count) {
    const CpuVirtualization* bsp = cpu_state(0);
    if (bsp == nullptr)
        return cpu_count <= 1;
    bool agree = true;
    for (uint32_t index = 1; index < cpu_count && index < x86::kMaxCpus; ++index) {
        const CpuVirtualization* other = cpu_state(index);
        if (other == nullptr)
            continue; // never came up: reported by SMP bring-up
        if (!same_capabilities(bsp->features, other->features)) {
            log::warn("virt: cpu%u offers %s npt=%d asids=%u, the BSP %s npt=%d asids=%u; "
                      "CPUs disagree on virtualization features",
                      index, kind_name(other->features.kind), other->features.npt_or_ept,
                      other->features.asids, kind_name(bsp->features.kind),
                      bsp->features.npt_or_ept, bsp->features.asids);
            agree = false;
        }
    }
    return agree;
}

} // namespace halcyon::virt
