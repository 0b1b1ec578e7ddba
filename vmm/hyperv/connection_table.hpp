// The partition's connections: which SynicPort serves HvPostMessage and HvSignalEvent for a
// connection id (HV_CONNECTION_ID: a 24-bit id, the high 8 bits reserved). A fixed table with
// no allocation; the partition guards it with a lock and calls the port after releasing it.
#pragma once

#include "vmm/hyperv/synic_ports.hpp"

#include <stdint.h>

namespace halcyon::vmm::hyperv {

inline constexpr uint32_t kConnectionIdMask = 0x00FF'FFFF;

class ConnectionTable {
public:
    static constexpr uint32_t kCapacity = 128;

    enum class SetResult : uint8_t { ok, invalid_id, full };
    // Registers `port` for `connection_id` (replacing an earlier one); nullptr removes it.
    [[nodiscard]] SetResult set(uint32_t connection_id, SynicPort* port);
    // The port of `connection_id`, nullptr if none.
    [[nodiscard]] SynicPort* find(uint32_t connection_id) const;
    [[nodiscard]] uint32_t size() const { return count_; }
    void clear() { count_ = 0; }

private:
    struct Entry {
        uint32_t connection_id;
        SynicPort* port;
    };
    Entry entries_[kCapacity] = {};
    uint32_t count_ = 0;
};

} // namespace halcyon::vmm::hyperv
