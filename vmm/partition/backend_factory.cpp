#include "vmm/partition/backend_factory.hpp"

#include "vmm/svm/svm_vcpu.hpp"

namespace halcyon::vmm {

ErrorOr<CpuBackend*> create_cpu_backend(mm::FrameAllocator& frames, const BackendSetup& setup) {
    auto backend = svm::SvmVcpu::create(frames, setup);
    if (backend.is_error())
        return backend.release_error();
    return static_cast<CpuBackend*>(backend.value());
}

} // namespace halcyon::vmm
