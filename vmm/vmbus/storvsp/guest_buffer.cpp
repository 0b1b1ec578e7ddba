#include "vmm/vmbus/storvsp/guest_buffer.hpp"

namespace halcyon::vmm::storvsp {
namespace {

// Page frame numbers above this would overflow a 64-bit guest physical address.
constexpr uint64_t kMaxPageNumber = UINT64_MAX / kGuestPageBytes;

} // namespace

ErrorOr<GuestBuffer> GuestBuffer::create(std::span<const vmbus::GpaRange> ranges,
                                         vmbus::GuestMemory& memory, uint32_t length) {
    uint64_t total = 0;
    for (const vmbus::GpaRange& range : ranges) {
        if (range.byte_count == 0)
            return Error(ErrorCode::invalid_argument, "storvsp: GPA range of zero bytes");
        if (range.byte_offset >= kGuestPageBytes)
            return Error(ErrorCode::invalid_argument, "storvsp: GPA range offset past its page");
        uint64_t pages = (uint64_t{range.byte_offset} + range.byte_count + kGuestPageBytes - 1) /
                         kGuestPageBytes;
        if (range.page_numbers.size() != pages)
            return Error(ErrorCode::invalid_argument,
                         "storvsp: GPA range page count does not match its length");
        for (uint64_t page : range.page_numbers)
            if (page > kMaxPageNumber)
                return Error(ErrorCode::invalid_argument, "storvsp: GPA page number too large");
        total += range.byte_count;
    }
    if (total < length)
        return Error(ErrorCode::invalid_argument,
                     "storvsp: SRB transfer length exceeds its GPA ranges");
    GuestBuffer buffer;
    buffer.ranges_ = ranges;
    buffer.memory_ = &memory;
    buffer.length_ = length;
    return buffer;
}

// Calls copy(gpa, buffer_offset, bytes) for each piece of [offset, offset + bytes) that lies in
// one guest page, in order.
template <typename Copy>
ErrorOr<void> GuestBuffer::walk(uint32_t offset, uint32_t bytes, Copy&& copy) const {
    if (offset > length_ || bytes > length_ - offset)
        return Error(ErrorCode::out_of_range, "storvsp: access past the SRB data buffer");
    uint32_t done = 0;
    uint64_t range_start = 0; // buffer offset of the current range's first byte
    for (const vmbus::GpaRange& range : ranges_) {
        if (done == bytes)
            break;
        uint64_t range_end = range_start + range.byte_count;
        uint64_t at = uint64_t{offset} + done;
        if (at >= range_end) {
            range_start = range_end;
            continue;
        }
        while (done < bytes && at < range_end) {
            uint64_t in_range = range.byte_offset + (at - range_start);
            uint64_t page_index = in_range / kGuestPageBytes;
            uint64_t in_page = in_range % kGuestPageBytes;
            uint64_t piece = kGuestPageBytes - in_page;
            if (piece > range_end - at)
                piece = range_end - at;
            if (piece > bytes - done)
                piece = bytes - done;
            uint64_t gpa = range.page_numbers[page_index] * kGuestPageBytes + in_page;
            TRY(copy(gpa, done, static_cast<uint32_t>(piece)));
            done += static_cast<uint32_t>(piece);
            at += piece;
        }
        range_start = range_end;
    }
    return {};
}

ErrorOr<void> GuestBuffer::read(uint32_t offset, std::span<uint8_t> out) const {
    return walk(offset, static_cast<uint32_t>(out.size()),
                [&](uint64_t gpa, uint32_t at, uint32_t bytes) -> ErrorOr<void> {
                    return memory_->read(gpa, out.subspan(at, bytes));
                });
}

ErrorOr<void> GuestBuffer::write(uint32_t offset, std::span<const uint8_t> data) const {
    return walk(offset, static_cast<uint32_t>(data.size()),
                [&](uint64_t gpa, uint32_t at, uint32_t bytes) -> ErrorOr<void> {
                    return memory_->write(gpa, data.subspan(at, bytes));
                });
}

} // namespace halcyon::vmm::storvsp
