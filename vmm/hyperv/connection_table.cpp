#include "vmm/hyperv/connection_table.hpp"

namespace halcyon::vmm::hyperv {

ConnectionTable::SetResult ConnectionTable::set(uint32_t connection_id, SynicPort* port) {
    if ((connection_id & ~kConnectionIdMask) != 0)
        return SetResult::invalid_id;
    for (uint32_t i = 0; i < count_; ++i) {
        if (entries_[i].connection_id != connection_id)
            continue;
        if (port != nullptr) {
            entries_[i].port = port;
        } else {
            entries_[i] = entries_[count_ - 1]; // order does not matter
            --count_;
        }
        return SetResult::ok;
    }
    if (port == nullptr)
        return SetResult::ok; // nothing to remove
    if (count_ == kCapacity)
        return SetResult::full;
    entries_[count_++] = Entry{connection_id, port};
    return SetResult::ok;
}

SynicPort* ConnectionTable::find(uint32_t connection_id) const {
    for (uint32_t i = 0; i < count_; ++i) {
        if (entries_[i].connection_id == connection_id)
            return entries_[i].port;
    }
    return nullptr;
}

} // namespace halcyon::vmm::hyperv
