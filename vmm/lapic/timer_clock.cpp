#include "vmm/lapic/timer_clock.hpp"

#include <bit>
#include <limits>

namespace halcyon::vmm::lapic {

namespace {

using u128 = unsigned __int128;

// floor(numerator * 2^shift / denominator) by binary long division: 128-bit shifts, compares and
// subtractions only (no __udivti3). Runs once per clock at construction.
uint64_t scaled_quotient(uint64_t numerator, uint64_t denominator, unsigned shift) {
    uint64_t quotient = (numerator / denominator) << shift;
    u128 remainder = numerator % denominator;
    for (unsigned bit = shift; bit-- > 0;) {
        remainder <<= 1;
        if (remainder >= denominator) {
            remainder -= denominator;
            quotient |= uint64_t{1} << bit;
        }
    }
    return quotient;
}

uint64_t saturate(u128 value) {
    constexpr uint64_t max = std::numeric_limits<uint64_t>::max();
    return value > max ? max : static_cast<uint64_t>(value);
}

} // namespace

FixedRatio::FixedRatio(uint64_t numerator, uint64_t denominator) {
    // A zero frequency is a caller bug; 1 Hz keeps the arithmetic defined.
    numerator = numerator == 0 ? 1 : numerator;
    denominator = denominator == 0 ? 1 : denominator;
    // The integer part takes bit_width bits; the rest of 63 bits holds the fraction.
    const unsigned integer_bits = static_cast<unsigned>(std::bit_width(numerator / denominator));
    shift_ = integer_bits >= 63 ? 0 : 63 - integer_bits;
    factor_ = scaled_quotient(numerator, denominator, shift_);
}

uint64_t FixedRatio::floor(uint64_t x) const {
    return saturate((static_cast<u128>(x) * factor_) >> shift_);
}

uint64_t FixedRatio::ceil(uint64_t x) const {
    const u128 product = static_cast<u128>(x) * factor_;
    const u128 one = u128{1} << shift_;
    return saturate((product + one - 1) >> shift_);
}

} // namespace halcyon::vmm::lapic
