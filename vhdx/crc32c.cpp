#include "vhdx/crc32c.hpp"

#include <array>

namespace halcyon::vhdx {
namespace {

// Reflected Castagnoli polynomial. A table-driven byte loop: portable to the freestanding worlds
// (no SSE4.2 there); fast enough because VHDX checksums only metadata.
constexpr uint32_t kPolynomial = 0x82F63B78;

constexpr std::array<uint32_t, 256> make_table() {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t value = i;
        for (int bit = 0; bit < 8; ++bit)
            value = (value & 1) ? (value >> 1) ^ kPolynomial : value >> 1;
        table[i] = value;
    }
    return table;
}

constexpr std::array<uint32_t, 256> kTable = make_table();

uint32_t update(uint32_t state, std::span<const uint8_t> data) {
    for (uint8_t byte : data)
        state = kTable[(state ^ byte) & 0xFF] ^ (state >> 8);
    return state;
}

} // namespace

uint32_t crc32c(std::span<const uint8_t> data, uint32_t crc) {
    return ~update(~crc, data);
}

uint32_t crc32c_with_zero_field(std::span<const uint8_t> buffer, size_t checksum_offset) {
    static constexpr uint8_t kZero[4] = {};
    uint32_t state = ~0u;
    state = update(state, buffer.subspan(0, checksum_offset));
    state = update(state, kZero);
    state = update(state, buffer.subspan(checksum_offset + 4));
    return ~state;
}

} // namespace halcyon::vhdx
