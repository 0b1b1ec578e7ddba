// The Hyper-V synthetic interface of a partition (vmm/hyperv, docs/hyperv.md): the CPUID leaves
// 0x40000000 and up, the synthetic MSRs and hypercalls. vmm/hyperv is pure; here it meets the
// vCPU registers and guest memory.
#include "vmm/arch/x86_64/cpu.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/arch/x86_64/tsc.hpp"
#include "vmm/partition/cpuid_policy.hpp"
#include "vmm/partition/partition.hpp"

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

// The hypercall and TSC pages: whole guest pages, zeroed, then the prefix.
class PageWriter final : public hyperv::GuestPageWriter {
public:
    explicit PageWriter(Partition& partition) : partition_(partition) {}
    bool fill_page(uint64_t page_gpa, std::span<const uint8_t> prefix) override {
        static constexpr uint8_t kZeros[4096] = {};
        if (partition_.write_guest(page_gpa, kZeros, sizeof(kZeros)).is_error())
            return false; // not RAM: nothing was written
        return prefix.empty() ||
               !partition_.write_guest(page_gpa, prefix.data(), prefix.size()).is_error();
    }

private:
    Partition& partition_;
};

} // namespace

hyperv::HypervPartition& Partition::hyperv() {
    if (!hyperv_ready_) {
        hyperv::HypervPartitionInfo info;
        info.tsc_hz = x86::tsc::frequency_hz();
        info.creation_tsc = x86::rdtsc();
        info.guest_physical_size = memory_bytes_;
        info.vcpu_count = kMaxVcpusPerPartition;
        info.vendor = hyperv::CpuVendor::amd;
        info.host_logical_processors = x86::allocated_cpu_count();
        info.physical_address_bits = static_cast<uint8_t>(host_cpuid(0x8000'0008, 0).eax & 0xFF);
        new (hyperv_storage_) hyperv::HypervPartition(info);
        hyperv_ready_ = true;
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
    if (auto synthetic = hyperv().cpuid(leaf))
        return *synthetic;
    hyperv().adjust_cpuid(leaf, result);
    return result;
}

bool Partition::hyperv_msr(uint32_t index, uint32_t msr, bool write, uint64_t& value) {
    mm::SpinLockGuard guard(hyperv_lock_);
    if (!write)
        return hyperv().read_msr(index, msr, vcpus_[index].backend->guest_tsc(), value);
    PageWriter pages(*this);
    return hyperv().write_msr(index, msr, value, pages);
}

ErrorOr<bool> Partition::handle_hypercall(uint32_t index) {
    CpuBackend& cpu = *vcpus_[index].backend;
    const SystemRegisters system = cpu.system_registers();
    hyperv::HypercallOutcome outcome;
    {
        mm::SpinLockGuard guard(hyperv_lock_);
        outcome = hyperv().hypercall(cpu.registers(), system);
    }
    if (outcome == hyperv::HypercallOutcome::completed)
        cpu.registers().rip += kVmmcallLength;
    else
        cpu.inject_exception(kVectorInvalidOpcode, false, 0);
    return false;
}

} // namespace halcyon::vmm
