// The data buffer of one SRB: the GPA ranges of a GPA-direct packet, read as one contiguous byte
// stream of the SRB's data_transfer_length bytes (ranges concatenated in order; Linux sends one
// range per request, the protocol allows several). The shape of the list is checked up front;
// the guest addresses themselves are checked by GuestMemory on every copy, so a range outside
// the VM's memory fails that copy and the SRB, never touches host memory.
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/vmbus/channel_device.hpp"

#include <span>
#include <stdint.h>

namespace halcyon::vmm::storvsp {

inline constexpr uint32_t kGuestPageBytes = 4096;

class GuestBuffer {
public:
    // An empty buffer (commands without data).
    GuestBuffer() = default;

    // Fails (invalid_argument) when a range is malformed — zero bytes, an offset outside its
    // first page, a page list that does not cover exactly offset + byte_count bytes, a page
    // number whose address overflows — or when the ranges hold fewer than `length` bytes.
    [[nodiscard]] static ErrorOr<GuestBuffer> create(std::span<const vmbus::GpaRange> ranges,
                                                     vmbus::GuestMemory& memory, uint32_t length);

    [[nodiscard]] uint32_t size() const { return length_; }
    // Guest -> host: bytes [offset, offset + out.size()) of the buffer.
    [[nodiscard]] ErrorOr<void> read(uint32_t offset, std::span<uint8_t> out) const;
    // Host -> guest.
    [[nodiscard]] ErrorOr<void> write(uint32_t offset, std::span<const uint8_t> data) const;

private:
    template <typename Copy>
    [[nodiscard]] ErrorOr<void> walk(uint32_t offset, uint32_t bytes, Copy&& copy) const;

    std::span<const vmbus::GpaRange> ranges_;
    vmbus::GuestMemory* memory_ = nullptr;
    uint32_t length_ = 0;
};

} // namespace halcyon::vmm::storvsp
