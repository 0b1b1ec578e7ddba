#include "vmm/vmx/vpid_pool.hpp"

namespace halcyon::vmx {

std::optional<uint16_t> VpidPool::allocate() {
    for (uint32_t tried = 0; tried < kVpidCount; ++tried) {
        const uint32_t candidate = next_;
        next_ = next_ + 1 == kVpidCount ? 1 : next_ + 1;
        if (!in_use(static_cast<uint16_t>(candidate))) {
            in_use_[candidate / 64] |= 1ull << (candidate % 64);
            return static_cast<uint16_t>(candidate);
        }
    }
    return std::nullopt;
}

void VpidPool::release(uint16_t vpid) {
    if (vpid != 0)
        in_use_[vpid / 64] &= ~(1ull << (vpid % 64));
}

} // namespace halcyon::vmx
