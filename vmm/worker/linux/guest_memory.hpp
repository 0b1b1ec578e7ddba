// How a guest loader writes guest-physical memory. Loaders (the Linux boot protocol loader here,
// and the flat test-guest loader) only ever write, so this is all they see of a partition: the
// VM worker adapts vmm::Partition::write_guest to it, host unit tests a plain buffer
// (vmm/worker/linux/testing/buffer_guest_memory.hpp).
#pragma once

#include "lib/base/error_or.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::worker {

class GuestMemoryWriter {
public:
    // Copies `bytes` to guest-physical `gpa`; an error when any byte falls outside guest RAM.
    [[nodiscard]] virtual ErrorOr<void> write(uint64_t gpa, std::span<const uint8_t> bytes) = 0;

    // Typed convenience: writes the object representation of `value`.
    template <typename T>
    [[nodiscard]] ErrorOr<void> write_object(uint64_t gpa, const T& value) {
        return write(gpa,
                     std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&value), sizeof(T)));
    }

protected:
    ~GuestMemoryWriter() = default;
};

} // namespace halcyon::worker
