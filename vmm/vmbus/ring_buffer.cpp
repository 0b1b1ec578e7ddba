#include "vmm/vmbus/ring_buffer.hpp"

#include "vmm/vmbus/vmbus_protocol.hpp"

#include <string.h>

namespace halcyon::vmm::vmbus {

namespace {

using protocol::kPageShift;
using protocol::kPageSize;

// The guest reads and writes the control words from its own vCPUs while the host does: these
// orderings are the virt_mb()/virt_rmb() pairs of Linux's ring code, from the host's side.
void full_barrier() {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

Error corrupt(const char* why) {
    return Error(ErrorCode::corrupt, why);
}

ErrorOr<uint32_t> valid_index(uint32_t index, uint32_t data_size, const char* why) {
    if (index >= data_size || index % 8 != 0)
        return corrupt(why);
    return index;
}

uint32_t wrap(uint32_t offset, uint32_t data_size) {
    return offset >= data_size ? offset - data_size : offset;
}

uint32_t align8(uint32_t value) {
    return (value + 7) & ~7u;
}

} // namespace

// --- RingPages --------------------------------------------------------------------------------

uint32_t RingPages::data_size() const {
    return pfns_.size() < 2 ? 0 : static_cast<uint32_t>((pfns_.size() - 1) * kPageSize);
}

ErrorOr<uint32_t> RingPages::load(GuestMemory& memory, uint32_t control_offset) const {
    uint8_t bytes[4];
    TRY(memory.read((pfns_[0] << kPageShift) + control_offset, bytes));
    uint32_t value;
    memcpy(&value, bytes, sizeof(value));
    return value;
}

ErrorOr<void> RingPages::store(GuestMemory& memory, uint32_t control_offset, uint32_t value) const {
    uint8_t bytes[4];
    memcpy(bytes, &value, sizeof(value));
    return memory.write((pfns_[0] << kPageShift) + control_offset, bytes);
}

// Calls `piece(gpa, done, length)` for each page-bounded piece of [offset, offset + length) of
// the data area, wrapping at its end (the data pages need not be contiguous in guest memory).
template <typename Piece>
static ErrorOr<void> for_each_piece(uint32_t offset, size_t length, uint32_t size,
                                    std::span<const uint64_t> data_pfns, Piece piece) {
    size_t done = 0;
    while (done < length) {
        const uint32_t in_page = offset % kPageSize;
        size_t chunk = kPageSize - in_page;
        if (chunk > length - done)
            chunk = length - done;
        TRY(piece((data_pfns[offset / kPageSize] << kPageShift) + in_page, done, chunk));
        done += chunk;
        offset = wrap(offset + static_cast<uint32_t>(chunk), size);
    }
    return {};
}

ErrorOr<void> RingPages::read(GuestMemory& memory, uint32_t offset, std::span<uint8_t> out) const {
    const uint32_t size = data_size();
    if (offset >= size || out.size() > size)
        return corrupt("ring read outside the data area");
    return for_each_piece(offset, out.size(), size, pfns_.subspan(1),
                          [&](uint64_t gpa, size_t done, size_t chunk) {
                              return memory.read(gpa, out.subspan(done, chunk));
                          });
}

ErrorOr<void> RingPages::write(GuestMemory& memory, uint32_t offset,
                               std::span<const uint8_t> data) const {
    const uint32_t size = data_size();
    if (offset >= size || data.size() > size)
        return corrupt("ring write outside the data area");
    return for_each_piece(offset, data.size(), size, pfns_.subspan(1),
                          [&](uint64_t gpa, size_t done, size_t chunk) {
                              return memory.write(gpa, data.subspan(done, chunk));
                          });
}

uint32_t ring_free_bytes(uint32_t data_size, uint32_t write_index, uint32_t read_index) {
    return write_index >= read_index ? data_size - (write_index - read_index)
                                     : read_index - write_index;
}

// --- InboundRing ------------------------------------------------------------------------------

ErrorOr<void> InboundRing::attach(RingPages pages, GuestMemory& memory) {
    pages_ = pages;
    uint32_t size = pages_.data_size();
    if (size == 0)
        return corrupt("inbound ring has no data pages");
    TRY(load_write_index(memory));
    uint32_t read = TRY(pages_.load(memory, protocol::kRingReadIndex));
    read_ = TRY(valid_index(read, size, "inbound read_index outside the ring"));
    committed_ = read_;
    // Interrupts on: the guest signals when it makes the ring non-empty.
    TRY(pages_.store(memory, protocol::kRingInterruptMask, 0));
    return {};
}

ErrorOr<uint32_t> InboundRing::load_write_index(GuestMemory& memory) const {
    uint32_t write = TRY(pages_.load(memory, protocol::kRingWriteIndex));
    return valid_index(write, pages_.data_size(), "inbound write_index outside the ring");
}

ErrorOr<uint32_t> InboundRing::peek(GuestMemory& memory, std::span<uint64_t> out) {
    uint32_t size = pages_.data_size();
    uint32_t write = TRY(load_write_index(memory));
    if (write == read_)
        return 0u;
    // The packet bytes were written before write_index: read them only after reading it.
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    uint32_t available = write > read_ ? write - read_ : size - read_ + write;
    constexpr uint32_t kDescriptorBytes = sizeof(protocol::PacketDescriptor);
    if (available < kDescriptorBytes + protocol::kPacketTrailerBytes)
        return corrupt("inbound ring holds a partial packet");
    protocol::PacketDescriptor descriptor;
    uint8_t descriptor_bytes[kDescriptorBytes];
    TRY(pages_.read(memory, read_, descriptor_bytes));
    memcpy(&descriptor, descriptor_bytes, sizeof(descriptor));
    uint32_t length = uint32_t{descriptor.len8} * 8;
    uint32_t offset = uint32_t{descriptor.offset8} * 8;
    if (offset < kDescriptorBytes || offset > length)
        return corrupt("packet descriptor offset outside the packet");
    if (length + protocol::kPacketTrailerBytes > available)
        return corrupt("packet longer than the data in the ring");
    if (length > out.size_bytes())
        return corrupt("packet larger than the host accepts");
    std::span<uint8_t> copy(reinterpret_cast<uint8_t*>(out.data()), length);
    TRY(pages_.read(memory, read_, copy));
    // Parse only the copy; if the guest rewrote the descriptor in between, the copy must still
    // describe the length that was checked.
    memcpy(&descriptor, copy.data(), sizeof(descriptor));
    if (uint32_t{descriptor.len8} * 8 != length)
        return corrupt("packet descriptor changed while it was copied");
    return length;
}

void InboundRing::advance(uint32_t packet_bytes) {
    read_ = wrap(read_ + packet_bytes + protocol::kPacketTrailerBytes, pages_.data_size());
}

ErrorOr<bool> InboundRing::commit(GuestMemory& memory) {
    if (read_ == committed_)
        return false;
    uint32_t size = pages_.data_size();
    uint32_t previous = committed_;
    // Our reads of the packets are done before the guest may reuse the space.
    full_barrier();
    TRY(pages_.store(memory, protocol::kRingReadIndex, read_));
    committed_ = read_;
    // Publish read_index before sampling pending_send_sz (else a guest that starts waiting in
    // between is never woken).
    full_barrier();
    uint32_t pending = TRY(pages_.load(memory, protocol::kRingPendingSendSize));
    if (pending == 0)
        return false;
    uint32_t write = TRY(load_write_index(memory));
    uint32_t free_before = ring_free_bytes(size, write, previous);
    uint32_t free_now = ring_free_bytes(size, write, read_);
    // Signal only on the transition from "not enough" to "enough" (the guest's writer needs
    // strictly more free bytes than its packet).
    return free_before <= pending && free_now > pending;
}

ErrorOr<void> InboundRing::set_interrupt_mask(GuestMemory& memory, bool masked) {
    return pages_.store(memory, protocol::kRingInterruptMask, masked ? 1 : 0);
}

ErrorOr<bool> InboundRing::has_data(GuestMemory& memory) {
    full_barrier();
    uint32_t write = TRY(load_write_index(memory));
    return write != read_;
}

// --- OutboundRing -----------------------------------------------------------------------------

ErrorOr<void> OutboundRing::attach(RingPages pages, GuestMemory& memory) {
    pages_ = pages;
    uint32_t size = pages_.data_size();
    if (size == 0)
        return corrupt("outbound ring has no data pages");
    TRY(load_read_index(memory));
    uint32_t write = TRY(pages_.load(memory, protocol::kRingWriteIndex));
    write_ = TRY(valid_index(write, size, "outbound write_index outside the ring"));
    // The writer announces that it sets pending_send_sz when blocked (the guest then signals us
    // when it frees space), and starts with nothing requested.
    TRY(pages_.store(memory, protocol::kRingFeatureBits, protocol::kRingFeaturePendingSendSize));
    TRY(pages_.store(memory, protocol::kRingPendingSendSize, 0));
    return {};
}

ErrorOr<uint32_t> OutboundRing::load_read_index(GuestMemory& memory) const {
    uint32_t read = TRY(pages_.load(memory, protocol::kRingReadIndex));
    return valid_index(read, pages_.data_size(), "outbound read_index outside the ring");
}

uint64_t OutboundRing::packet_bytes(uint64_t payload_bytes) {
    return sizeof(protocol::PacketDescriptor) + ((payload_bytes + 7) & ~uint64_t{7}) +
           protocol::kPacketTrailerBytes;
}

ErrorOr<uint32_t> OutboundRing::free_bytes(GuestMemory& memory) const {
    uint32_t read = TRY(load_read_index(memory));
    return ring_free_bytes(pages_.data_size(), write_, read);
}

ErrorOr<bool> OutboundRing::write(GuestMemory& memory, uint16_t type, uint16_t flags,
                                  uint64_t transaction_id, std::span<const uint8_t> payload) {
    uint32_t size = pages_.data_size();
    uint64_t total = packet_bytes(payload.size());
    // len8 is 16 bits; a packet must also leave the ring distinguishable from empty.
    if (total - protocol::kPacketTrailerBytes > uint64_t{0xFFFF} * 8 || total >= size)
        return Error(ErrorCode::out_of_range, "packet larger than the guest's ring");
    uint32_t read = TRY(load_read_index(memory));
    if (ring_free_bytes(size, write_, read) <= total)
        return Error(ErrorCode::busy, "guest ring full");
    uint32_t body =
        sizeof(protocol::PacketDescriptor) + align8(static_cast<uint32_t>(payload.size()));
    protocol::PacketDescriptor descriptor{};
    descriptor.type = type;
    descriptor.offset8 = sizeof(protocol::PacketDescriptor) / 8;
    descriptor.len8 = static_cast<uint16_t>(body / 8);
    descriptor.flags = flags;
    descriptor.transaction_id = transaction_id;
    uint8_t descriptor_bytes[sizeof(descriptor)];
    memcpy(descriptor_bytes, &descriptor, sizeof(descriptor));

    uint32_t start = write_;
    uint32_t at = start;
    TRY(pages_.write(memory, at, descriptor_bytes));
    at = wrap(at + sizeof(descriptor_bytes), size);
    if (!payload.empty()) {
        TRY(pages_.write(memory, at, payload));
        at = wrap(at + static_cast<uint32_t>(payload.size()), size);
    }
    uint32_t padding =
        align8(static_cast<uint32_t>(payload.size())) - static_cast<uint32_t>(payload.size());
    if (padding != 0) {
        static constexpr uint8_t kZeros[8] = {};
        TRY(pages_.write(memory, at, std::span<const uint8_t>(kZeros, padding)));
        at = wrap(at + padding, size);
    }
    // The trailer: this packet's start index in the upper half, as Linux writes it.
    uint64_t trailer = uint64_t{start} << 32;
    uint8_t trailer_bytes[8];
    memcpy(trailer_bytes, &trailer, sizeof(trailer));
    TRY(pages_.write(memory, at, trailer_bytes));
    at = wrap(at + sizeof(trailer_bytes), size);

    // Packet bytes before the index that publishes them; the index before the mask check.
    full_barrier();
    TRY(pages_.store(memory, protocol::kRingWriteIndex, at));
    write_ = at;
    full_barrier();
    uint32_t mask = TRY(pages_.load(memory, protocol::kRingInterruptMask));
    if (mask != 0)
        return false;
    uint32_t read_now = TRY(pages_.load(memory, protocol::kRingReadIndex));
    // Only the empty -> non-empty transition interrupts the guest.
    return read_now == start;
}

ErrorOr<bool> OutboundRing::request_space(GuestMemory& memory, uint32_t bytes) {
    TRY(pages_.store(memory, protocol::kRingPendingSendSize, bytes));
    // pending_send_sz visible before we look at read_index again (the guest frees, then reads
    // pending_send_sz: one of us sees the other).
    full_barrier();
    uint32_t free = TRY(free_bytes(memory));
    if (free > bytes) {
        TRY(clear_request(memory));
        return true;
    }
    return false;
}

ErrorOr<void> OutboundRing::clear_request(GuestMemory& memory) {
    return pages_.store(memory, protocol::kRingPendingSendSize, 0);
}

} // namespace halcyon::vmm::vmbus
