// Virtual-processor identifiers (VPIDs, SDM vol. 3, 29.1): the CPU tags guest translations
// with them so a VM entry need not flush the TLB. Each vCPU gets its own (two vCPUs of one
// partition on one physical CPU have different page tables, so they must not share tags; VPID 0
// is the host's). Allocation is next-fit, so a freed VPID is handed out again only after all
// others: by then its stale translations have long been flushed by the CPUs that ran it (the
// backend also flushes a VPID the first time it runs on a CPU).
// Pure and not thread-safe: the core keeps one pool behind a lock.
#pragma once

#include <optional>
#include <stdint.h>

namespace halcyon::vmx {

class VpidPool {
public:
    static constexpr uint32_t kVpidCount = 1u << 16; // 16-bit field; 0 is reserved

    VpidPool() { in_use_[0] = 1; }

    [[nodiscard]] std::optional<uint16_t> allocate();
    void release(uint16_t vpid);
    [[nodiscard]] bool in_use(uint16_t vpid) const {
        return ((in_use_[vpid / 64] >> (vpid % 64)) & 1) != 0;
    }

private:
    uint64_t in_use_[kVpidCount / 64] = {};
    uint32_t next_ = 1;
};

} // namespace halcyon::vmx
