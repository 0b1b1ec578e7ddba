#include "vmm/partition/backend_factory.hpp"

#include "mm/ept_or_npt.hpp"
#include "vmm/arch/x86_64/percpu.hpp"
#include "vmm/hyperv/partition_info.hpp"
#include "vmm/svm/svm_vcpu.hpp"
#include "vmm/virt/virt_cpu.hpp"
#include "vmm/vmx/hw/vmx_vcpu.hpp"

namespace halcyon::vmm {
namespace {

// The calling CPU's virtualization, as its bring-up recorded it (virt::enable_on_this_cpu).
virt::Kind this_cpu_kind() {
    const auto* state = static_cast<const virt::CpuVirtualization*>(x86::this_cpu().virtualization);
    return state != nullptr ? state->features.kind : virt::Kind::none;
}

} // namespace

ErrorOr<CpuBackend*> create_cpu_backend(mm::FrameAllocator& frames, const BackendSetup& setup) {
    switch (this_cpu_kind()) {
    case virt::Kind::svm: {
        auto backend = svm::SvmVcpu::create(frames, setup);
        if (backend.is_error())
            return backend.release_error();
        return static_cast<CpuBackend*>(backend.value());
    }
    case virt::Kind::vmx: {
        auto backend = vmx::hw::VmxVcpu::create(frames, setup);
        if (backend.is_error())
            return backend.release_error();
        return static_cast<CpuBackend*>(backend.value());
    }
    case virt::Kind::none:
        break;
    }
    return Error(ErrorCode::not_supported, "this CPU has no usable hardware virtualization");
}

// The nested-paging format the backends of this CPU walk: the partition builds its
// guest-physical tables in it (NPT entries for SVM, EPT entries for VT-x).
mm::NestedFormat nested_table_format() {
    return this_cpu_kind() == virt::Kind::vmx ? mm::NestedFormat::ept : mm::NestedFormat::npt;
}

// VMCALL (0F 01 C1) is the hypercall instruction on VT-x, VMMCALL (0F 01 D9) on AMD-V; each
// raises #UD on the other vendor's CPUs.
hyperv::CpuVendor hypercall_vendor() {
    return this_cpu_kind() == virt::Kind::vmx ? hyperv::CpuVendor::intel : hyperv::CpuVendor::amd;
}

} // namespace halcyon::vmm
