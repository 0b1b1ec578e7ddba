#include "vmm/hyperv/hypercall_page.hpp"

namespace halcyon::vmm::hyperv {
namespace {

constexpr uint8_t kAmdCode[] = {0xF3, 0x0F, 0x1E, 0xFA, 0x0F, 0x01, 0xD9, 0xC3};
constexpr uint8_t kIntelCode[] = {0xF3, 0x0F, 0x1E, 0xFA, 0x0F, 0x01, 0xC1, 0xC3};

} // namespace

std::span<const uint8_t> hypercall_page_code(CpuVendor vendor) {
    if (vendor == CpuVendor::intel)
        return kIntelCode;
    return kAmdCode;
}

} // namespace halcyon::vmm::hyperv
