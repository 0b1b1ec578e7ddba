#include "vswitch/packet/checksum.hpp"

namespace halcyon::vswitch {

uint32_t checksum_add(std::span<const uint8_t> data, uint32_t sum) {
    // 64-bit accumulator: no carry handling inside the loop, even for a 64 KiB frame.
    uint64_t acc = sum;
    size_t i = 0;
    for (; i + 1 < data.size(); i += 2)
        acc += load_be16(data.data() + i);
    if (i < data.size())
        acc += uint32_t{data[i]} << 8;
    while (acc >> 32)
        acc = (acc & 0xFFFFFFFFu) + (acc >> 32);
    return static_cast<uint32_t>(acc);
}

uint16_t checksum_finish(uint32_t sum) {
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

bool checksum_verifies(std::span<const uint8_t> data, uint32_t sum) {
    return checksum_finish(checksum_add(data, sum)) == 0;
}

uint16_t checksum_update16(uint16_t checksum, uint16_t old_word, uint16_t new_word) {
    uint32_t sum = static_cast<uint16_t>(~checksum);
    sum += static_cast<uint16_t>(~old_word);
    sum += new_word;
    return checksum_finish(sum);
}

uint16_t checksum_update32(uint16_t checksum, uint32_t old_value, uint32_t new_value) {
    checksum = checksum_update16(checksum, static_cast<uint16_t>(old_value >> 16),
                                 static_cast<uint16_t>(new_value >> 16));
    return checksum_update16(checksum, static_cast<uint16_t>(old_value),
                             static_cast<uint16_t>(new_value));
}

void ipv4_set_header_checksum(std::span<uint8_t> header) {
    if (header.size() < 20)
        return;
    store_be16(header.data() + 10, 0);
    store_be16(header.data() + 10, checksum_finish(checksum_add(header)));
}

bool ipv4_header_checksum_valid(std::span<const uint8_t> header) {
    return header.size() >= 20 && checksum_verifies(header);
}

uint32_t pseudo_header_ipv4(Ipv4Address source, Ipv4Address destination, uint8_t protocol,
                            uint16_t length) {
    uint32_t sum = (source.value >> 16) + (source.value & 0xFFFF);
    sum += (destination.value >> 16) + (destination.value & 0xFFFF);
    sum += protocol;
    sum += length;
    return sum;
}

uint32_t pseudo_header_ipv6(const Ipv6Address& source, const Ipv6Address& destination,
                            uint8_t next_header, uint32_t length) {
    uint32_t sum = checksum_add(source.bytes);
    sum = checksum_add(destination.bytes, sum);
    uint64_t acc = uint64_t{sum} + (length >> 16) + (length & 0xFFFF) + next_header;
    while (acc >> 32)
        acc = (acc & 0xFFFFFFFFu) + (acc >> 32);
    return static_cast<uint32_t>(acc);
}

uint16_t l4_checksum(uint32_t pseudo_header_sum, std::span<const uint8_t> segment, bool is_udp) {
    uint16_t checksum = checksum_finish(checksum_add(segment, pseudo_header_sum));
    if (is_udp && checksum == 0)
        checksum = 0xFFFF;
    return checksum;
}

} // namespace halcyon::vswitch
