// Integer ALU semantics with the RFLAGS results the CPU produces (SDM Vol. 2 / APM Vol. 3).
// Values are `size` bytes wide (1, 2, 4, 8) in the low bits of a uint64_t.
#pragma once

#include <stdint.h>

namespace halcyon::emulate {

enum class AluOp : uint8_t { add, adc, sub, sbb, cmp, and_, or_, xor_, test, inc, dec, neg, not_ };

struct AluResult {
    uint64_t value;  // the result (unchanged destination for cmp/test)
    uint64_t rflags; // the full new RFLAGS
    bool writes_destination;
};

// `a` is the destination operand, `b` the source (ignored by inc/dec/neg/not).
[[nodiscard]] AluResult alu(AluOp op, unsigned size, uint64_t a, uint64_t b, uint64_t rflags);

enum class BitOp : uint8_t { test, set, reset, complement };

// BT/BTS/BTR/BTC on a `size`-byte value with the bit already reduced modulo the width.
[[nodiscard]] AluResult bit_operation(BitOp op, unsigned size, uint64_t value, unsigned bit,
                                      uint64_t rflags);

[[nodiscard]] constexpr uint64_t size_mask(unsigned size) {
    return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

[[nodiscard]] constexpr uint64_t sign_extend(uint64_t value, unsigned size) {
    const unsigned shift = 64 - size * 8;
    return static_cast<uint64_t>(static_cast<int64_t>(value << shift) >> shift);
}

} // namespace halcyon::emulate
