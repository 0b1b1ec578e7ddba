// The Hyper-V synthetic interface of a partition (vmm/hyperv): hypercalls for now.
#include "vmm/partition/partition.hpp"

namespace halcyon::vmm {
namespace {

constexpr uint8_t kVectorInvalidOpcode = 6;

} // namespace

ErrorOr<bool> Partition::handle_hypercall(uint32_t index) {
    // No hypercall interface is offered yet (CPUID 0x40000003 says so): VMMCALL behaves as on a
    // CPU without one.
    vcpus_[index].backend->inject_exception(kVectorInvalidOpcode, false, 0);
    return false;
}

} // namespace halcyon::vmm
