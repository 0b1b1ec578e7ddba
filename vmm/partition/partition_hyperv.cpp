// The Hyper-V synthetic interface of a partition (vmm/hyperv, docs/hyperv.md): the CPUID leaves
// 0x40000000 and up, the synthetic MSRs and hypercalls. vmm/hyperv is pure; here it meets the
// vCPU registers and guest memory.
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/arch/x86_64/preemption_timer.hpp"
#include "vmm/arch/x86_64/tsc.hpp"
#include "vmm/partition/backend_factory.hpp"
#include "vmm/partition/cpuid_policy.hpp"
#include "vmm/partition/partition.hpp"
#include "vmm/root/abi.hpp"
#include "vmm/root/calls.hpp"
#include "vmm/root/dispatch/root_partition.hpp"

#include <new>

namespace halcyon::vmm {
namespace {

constexpr uint8_t kVectorInvalidOpcode = 6;
constexpr uint8_t kVmmcallLength = 3; // 0F 01 D9

virt::CpuidRegisters host_cpuid(uint32_t leaf, uint32_t subleaf) {
    virt::CpuidRegisters r;
    asm volatile("cpuid"
                 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                 : "a"(leaf), "c"(subleaf));
    return r;
}

} // namespace

hyperv::HypervPartition& Partition::hyperv() {
    // Made on first use, which may come from several CPUs at once (a vCPU's CPUID exit, another
    // vCPU's SynIC MSR, the VMBus host): construct under its own lock, publish with a release.
    if (!hyperv_constructed()) {
        mm::SpinLockGuard guard(hyperv_init_lock_);
        if (hyperv_ready_)
            return *reinterpret_cast<hyperv::HypervPartition*>(hyperv_storage_);
        hyperv::HypervPartitionInfo info;
        info.tsc_hz = x86::tsc::frequency_hz();
        info.creation_tsc = x86::rdtsc();
        info.guest_physical_size = ram_limit(); // identity-mapped RAM lies high
        info.vcpu_count = kMaxVcpusPerPartition;
        info.vendor = hypercall_vendor();
        info.host_logical_processors = x86::allocated_cpu_count();
        info.physical_address_bits = static_cast<uint8_t>(host_cpuid(0x8000'0008, 0).eax & 0xFF);
        new (hyperv_storage_) hyperv::HypervPartition(info);
        __atomic_store_n(&hyperv_ready_, true, __ATOMIC_RELEASE);
    }
    return *reinterpret_cast<hyperv::HypervPartition*>(hyperv_storage_);
}

virt::CpuidRegisters Partition::cpuid(uint32_t index, uint32_t leaf, uint32_t subleaf) {
    // The host CPUID and the policy run unlocked: only the Hyper-V state is shared.
    const CpuBackend& cpu = *vcpus_[index].backend;
    const CpuidContext context{.vcpu_index = index,
                               .vcpu_count = vcpu_count_,
                               .guest_cr4 = cpu.system_registers().cr4,
                               .guest_xcr0 = cpu.guest_xcr0()};
    virt::CpuidRegisters result = guest_cpuid(leaf, subleaf, context, host_cpuid);
    mm::SpinLockGuard guard(hyperv_lock_);
    if (auto synthetic = hyperv().cpuid(leaf)) {
        // The root partition's privileges (docs/management-partition.md): it may create
        // partitions, learn its own id and deposit memory; nobody else may.
        if (leaf == hyperv::leaf::kFeatures && root::is_root(*this))
            synthetic->ebx |= root::privilege_ebx::kRoot;
        return *synthetic;
    }
    hyperv().adjust_cpuid(leaf, result);
    return result;
}

bool Partition::hyperv_msr(uint32_t index, uint32_t msr, bool write, uint64_t& value) {
    // The SynIC and synthetic timers are per vCPU, under their own lock.
    if (hyperv::VpSynic::claims_msr(msr))
        return synic_msr(index, msr, write, value);
    mm::SpinLockGuard guard(hyperv_lock_);
    if (!write)
        return hyperv().read_msr(index, msr, vcpus_[index].backend->guest_tsc(), value);
    HypervMemory memory(*this);
    return hyperv().write_msr(index, msr, value, memory);
}

ErrorOr<bool> Partition::handle_hypercall(uint32_t index, Intercept& out) {
    CpuBackend& cpu = *vcpus_[index].backend;
    const SystemRegisters system = cpu.system_registers();
    // The root partition's privileged calls (vmm/root), once the preconditions of every
    // hypercall hold (the hypercall page enabled, CPL 0 in protected mode; otherwise the common
    // path below raises #UD). A partition without the privilege gets HV_STATUS_ACCESS_DENIED.
    const hyperv::HypercallCaller caller = hyperv::hypercall_caller(system);
    bool enabled;
    {
        mm::SpinLockGuard guard(hyperv_lock_);
        enabled = hyperv().hypercalls_enabled();
    }
    if (enabled && caller.protected_mode && caller.cpl == 0) {
        const hyperv::HypercallInput input =
            hyperv::read_hypercall_input(cpu.registers(), caller.long_mode);
        if (root::is_privileged_call(hyperv::decode_control(input.control).code)) {
            const uint64_t deadline =
                vcpus_[index].manage_preemption ? vcpus_[index].armed_deadline : kNoDeadline;
            const root::Completion done =
                root::privileged_hypercall(*this, index, input, deadline, privileged_refusals_);
            if (done.ran_child) {
                // HvDispatchVp ran a child's vCPU on this CPU: its FPU state is live here now,
                // and the preemption timer was armed for it. Make both this vCPU's again.
                activate_fpu_state(vcpus_[index].fpu);
                if (vcpus_[index].manage_preemption)
                    (void)x86::preemption_timer::arm(vcpus_[index].armed_deadline);
            }
            hyperv::store_hypercall_result(cpu.registers(), caller.long_mode, done.result);
            cpu.registers().rip += kVmmcallLength;
            if (!done.yield)
                return false;
            out.kind = InterceptKind::yield; // the CPU's scheduler has something to do
            return true;
        }
    }
    HypervMemory memory(*this);
    hyperv::HypercallResult result;
    {
        mm::SpinLockGuard guard(hyperv_lock_);
        result = hyperv().hypercall(cpu.registers(), system, memory);
    }
    switch (result.outcome) {
    case hyperv::HypercallOutcome::undefined_opcode:
        cpu.inject_exception(kVectorInvalidOpcode, false, 0);
        return false;
    case hyperv::HypercallOutcome::port_call: {
        // HvPostMessage / HvSignalEvent passed the checks: the connection's port answers,
        // called with no lock held (it may post back to this very guest).
        hyperv::SynicPort* port;
        {
            mm::SpinLockGuard guard(synic_ports_lock_);
            port = synic_ports_.find(result.port_call.connection_id);
        }
        const hyperv::HvStatus status = hyperv::call_port(result.port_call, port, index);
        hyperv::store_hypercall_result(cpu.registers(), hyperv::hypercall_caller(system).long_mode,
                                       hyperv::hypercall_result(status));
        break;
    }
    case hyperv::HypercallOutcome::completed:
        break;
    }
    cpu.registers().rip += kVmmcallLength;
    return false;
}

} // namespace halcyon::vmm
