#include "vmm/vmx/hw/vmx_host.hpp"

#include "mm/spinlock.hpp"
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/gdt.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/vmx/control_bits.hpp"
#include "vmm/vmx/hw/vmx_instructions.hpp"
#include "vmm/vmx/vpid_pool.hpp"

extern "C" char vmx_guest_exit[]; // vmx_run.S: where every VM exit lands

namespace halcyon::vmx::hw {
namespace {

constexpr uint32_t kMsrSysenterCs = 0x174;
constexpr uint32_t kMsrSysenterEsp = 0x175;
constexpr uint32_t kMsrSysenterEip = 0x176;
constexpr uint32_t kMsrPat = 0x277;

VmxConfiguration g_configuration;
bool g_configured = false;
mm::SpinLock g_configuration_lock;

CpuState g_cpus[x86::kMaxCpus];

struct DeferredRelease {
    uint32_t cpu;
    uint64_t vmcs;
    mm::FrameAllocator* frames;
};
constexpr uint32_t kMaxDeferred = 256;
DeferredRelease g_deferred[kMaxDeferred];
uint32_t g_deferred_count = 0;
mm::SpinLock g_deferred_lock;

VpidPool g_vpids;
mm::SpinLock g_vpid_lock;

uint64_t descriptor_table_base(bool interrupt_table) {
    x86::DescriptorTablePointer pointer{};
    if (interrupt_table)
        asm volatile("sidt %0" : "=m"(pointer));
    else
        asm volatile("sgdt %0" : "=m"(pointer));
    return pointer.base;
}

uint16_t task_register() {
    uint16_t selector;
    asm volatile("str %0" : "=r"(selector));
    return selector;
}

} // namespace

VmxMsrValues read_capability_msrs() {
    VmxMsrValues msrs;
    msrs.basic = x86::rdmsr(msr::kBasic);
    msrs.pin_based = x86::rdmsr(msr::kPinBasedControls);
    msrs.processor = x86::rdmsr(msr::kProcessorControls);
    msrs.exit = x86::rdmsr(msr::kExitControls);
    msrs.entry = x86::rdmsr(msr::kEntryControls);
    msrs.misc = x86::rdmsr(msr::kMisc);
    msrs.cr0_fixed0 = x86::rdmsr(msr::kCr0Fixed0);
    msrs.cr0_fixed1 = x86::rdmsr(msr::kCr0Fixed1);
    msrs.cr4_fixed0 = x86::rdmsr(msr::kCr4Fixed0);
    msrs.cr4_fixed1 = x86::rdmsr(msr::kCr4Fixed1);
    if (has_secondary_controls(msrs.processor)) {
        msrs.processor2 = x86::rdmsr(msr::kProcessorControls2);
        if (has_ept_vpid_capability(msrs.processor2))
            msrs.ept_vpid_capability = x86::rdmsr(msr::kEptVpidCapability);
    }
    if (has_true_controls(msrs.basic)) {
        msrs.true_pin_based = x86::rdmsr(msr::kTruePinBasedControls);
        msrs.true_processor = x86::rdmsr(msr::kTrueProcessorControls);
        msrs.true_exit = x86::rdmsr(msr::kTrueExitControls);
        msrs.true_entry = x86::rdmsr(msr::kTrueEntryControls);
    }
    return msrs;
}

void record_configuration(const VmxConfiguration& configuration_value) {
    mm::SpinLockGuard guard(g_configuration_lock);
    if (g_configured)
        return;
    g_configuration = configuration_value;
    __atomic_store_n(&g_configured, true, __ATOMIC_RELEASE);
}

const VmxConfiguration* configuration() {
    return __atomic_load_n(&g_configured, __ATOMIC_ACQUIRE) ? &g_configuration : nullptr;
}

CpuState& cpu_state(uint32_t cpu) {
    return g_cpus[cpu];
}

void defer_release(uint32_t cpu, uint64_t vmcs_physical, mm::FrameAllocator& frames) {
    mm::SpinLockGuard guard(g_deferred_lock);
    if (g_deferred_count == kMaxDeferred)
        return; // keep the page rather than free memory a CPU may still write back
    g_deferred[g_deferred_count++] = DeferredRelease{cpu, vmcs_physical, &frames};
}

void release_deferred(uint32_t cpu) {
    if (__atomic_load_n(&g_deferred_count, __ATOMIC_RELAXED) == 0)
        return;
    mm::SpinLockGuard guard(g_deferred_lock);
    for (uint32_t i = 0; i < g_deferred_count;) {
        if (g_deferred[i].cpu != cpu) {
            ++i;
            continue;
        }
        const DeferredRelease release = g_deferred[i];
        g_deferred[i] = g_deferred[--g_deferred_count];
        if (vmclear(release.vmcs) != VmxResult::success)
            continue; // the CPU refused: never reuse the page
        if (g_cpus[cpu].current_vmcs == release.vmcs)
            g_cpus[cpu].current_vmcs = 0;
        (void)release.frames->free(release.vmcs, 1);
    }
}

std::optional<uint16_t> allocate_vpid() {
    mm::SpinLockGuard guard(g_vpid_lock);
    return g_vpids.allocate();
}

void release_vpid(uint16_t vpid) {
    mm::SpinLockGuard guard(g_vpid_lock);
    g_vpids.release(vpid);
}

bool write_host_state() {
    bool ok = true;
    const auto write = [&](VmcsField field, uint64_t value) {
        ok &= vmwrite(field, value) == VmxResult::success;
    };
    write(field::kHostCr0, x86::read_cr0());
    write(field::kHostCr3, x86::read_cr3());
    write(field::kHostCr4, x86::read_cr4());
    // The core's flat segments; FS and GS hold the null selector and their bases live in the
    // MSRs (GS base is this CPU's PerCpu block: this_cpu() must work right after the exit).
    write(field::kHostCsSelector, x86::kKernelCodeSelector);
    write(field::kHostSsSelector, x86::kKernelDataSelector);
    write(field::kHostDsSelector, x86::kKernelDataSelector);
    write(field::kHostEsSelector, x86::kKernelDataSelector);
    write(field::kHostFsSelector, 0);
    write(field::kHostGsSelector, 0);
    write(field::kHostTrSelector, task_register());
    write(field::kHostFsBase, x86::rdmsr(x86::msr::kFsBase));
    write(field::kHostGsBase, x86::rdmsr(x86::msr::kGsBase));
    write(field::kHostTrBase, reinterpret_cast<uint64_t>(&x86::this_cpu().tss));
    write(field::kHostGdtrBase, descriptor_table_base(false));
    write(field::kHostIdtrBase, descriptor_table_base(true));
    write(field::kHostSysenterCs, x86::rdmsr(kMsrSysenterCs));
    write(field::kHostSysenterEsp, x86::rdmsr(kMsrSysenterEsp));
    write(field::kHostSysenterEip, x86::rdmsr(kMsrSysenterEip));
    write(field::kHostPat, x86::rdmsr(kMsrPat));
    write(field::kHostEfer, x86::rdmsr(x86::msr::kEfer));
    write(field::kHostRip, reinterpret_cast<uint64_t>(vmx_guest_exit));
    return ok;
}

} // namespace halcyon::vmx::hw
