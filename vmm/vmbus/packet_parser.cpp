#include "vmm/vmbus/packet_parser.hpp"

#include "vmm/vmbus/vmbus_protocol.hpp"

#include <string.h>

namespace halcyon::vmm::vmbus {

namespace {

constexpr uint32_t kDescriptorBytes = sizeof(protocol::PacketDescriptor);
constexpr uint32_t kGpaDirectHeaderEnd = kDescriptorBytes + sizeof(protocol::GpaDirectHeader);

ErrorOr<uint32_t> parse_ranges(std::span<const uint64_t> packet, uint32_t ranges_end,
                               std::span<GpaRange> ranges) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(packet.data());
    protocol::GpaDirectHeader header;
    memcpy(&header, bytes + kDescriptorBytes, sizeof(header));
    if (header.range_count == 0 || header.range_count > ranges.size())
        return Error(ErrorCode::corrupt, "GPA-direct range count is 0 or above the limit");
    uint32_t position = kGpaDirectHeaderEnd;
    for (uint32_t i = 0; i < header.range_count; ++i) {
        if (ranges_end - position < sizeof(protocol::GpaRangeHeader))
            return Error(ErrorCode::corrupt, "GPA-direct range list truncated");
        protocol::GpaRangeHeader range;
        memcpy(&range, bytes + position, sizeof(range));
        position += sizeof(range);
        if (range.byte_count == 0 || range.byte_offset >= protocol::kPageSize)
            return Error(ErrorCode::corrupt, "GPA-direct range empty or offset past its page");
        uint64_t pages =
            (uint64_t{range.byte_offset} + range.byte_count + protocol::kPageSize - 1) >>
            protocol::kPageShift;
        if (pages > (ranges_end - position) / 8)
            return Error(ErrorCode::corrupt, "GPA-direct range has more bytes than pages");
        ranges[i] = GpaRange{range.byte_count, range.byte_offset,
                             packet.subspan(position / 8, static_cast<size_t>(pages))};
        position += static_cast<uint32_t>(pages) * 8;
    }
    return header.range_count;
}

} // namespace

ErrorOr<IncomingPacket> parse_packet(std::span<const uint64_t> packet, uint32_t bytes,
                                     std::span<GpaRange> ranges) {
    if (bytes < kDescriptorBytes || bytes % 8 != 0 || bytes > packet.size_bytes())
        return Error(ErrorCode::corrupt, "packet shorter than its descriptor");
    const auto* raw = reinterpret_cast<const uint8_t*>(packet.data());
    protocol::PacketDescriptor descriptor;
    memcpy(&descriptor, raw, sizeof(descriptor));
    uint32_t offset = uint32_t{descriptor.offset8} * 8;
    if (uint32_t{descriptor.len8} * 8 != bytes || offset < kDescriptorBytes || offset > bytes)
        return Error(ErrorCode::corrupt, "packet descriptor lengths inconsistent");
    if ((descriptor.flags & ~protocol::kPacketFlagCompletionRequested) != 0)
        return Error(ErrorCode::corrupt, "packet descriptor has unknown flags");

    IncomingPacket result;
    result.completion_requested =
        (descriptor.flags & protocol::kPacketFlagCompletionRequested) != 0;
    result.transaction_id = descriptor.transaction_id;
    result.payload = std::span<const uint8_t>(raw + offset, bytes - offset);
    switch (static_cast<protocol::WirePacketType>(descriptor.type)) {
    case protocol::WirePacketType::data_inband:
        result.type = PacketType::data_inband;
        return result;
    case protocol::WirePacketType::completion:
        result.type = PacketType::completion;
        return result;
    case protocol::WirePacketType::data_using_gpa_direct: {
        if (offset < kGpaDirectHeaderEnd)
            return Error(ErrorCode::corrupt, "GPA-direct packet without its range header");
        uint32_t count = TRY(parse_ranges(packet, offset, ranges));
        result.type = PacketType::data_using_gpa_direct;
        result.ranges = ranges.first(count);
        return result;
    }
    case protocol::WirePacketType::data_using_transfer_pages:
        // Transfer-page packets flow host->guest only (netvsc receive); a guest never sends one.
        return Error(ErrorCode::not_supported, "transfer-page packet from the guest");
    }
    return Error(ErrorCode::not_supported, "unknown packet type");
}

} // namespace halcyon::vmm::vmbus
