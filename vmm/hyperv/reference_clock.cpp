#include "vmm/hyperv/reference_clock.hpp"

#include <string.h>

namespace halcyon::vmm::hyperv {
namespace {

using u128 = unsigned __int128;

uint64_t multiply_high(uint64_t a, uint64_t b) {
    return static_cast<uint64_t>((static_cast<u128>(a) * b) >> 64);
}

} // namespace

uint64_t fraction_of_2_pow_64(uint64_t numerator, uint64_t denominator) {
    // remainder < denominator < 2^64 throughout, so its doubling fits in 65 bits.
    u128 remainder = numerator;
    uint64_t quotient = 0;
    for (int bit = 63; bit >= 0; --bit) {
        remainder <<= 1;
        if (remainder >= denominator) {
            remainder -= denominator;
            quotient |= uint64_t{1} << bit;
        }
    }
    return quotient;
}

ReferenceClock::ReferenceClock(uint64_t tsc_hz, uint64_t creation_tsc)
    : tsc_hz_(tsc_hz == 0 ? 1 : tsc_hz), creation_tsc_(creation_tsc) {
    page_valid_ = tsc_hz_ > kReferenceHz;
    if (page_valid_) {
        scale_ = fraction_of_2_pow_64(kReferenceHz, tsc_hz_);
        offset_ = -static_cast<int64_t>(multiply_high(creation_tsc_, scale_));
    }
}

uint64_t ReferenceClock::time_at(uint64_t tsc) const {
    if (page_valid_)
        return multiply_high(tsc, scale_) + static_cast<uint64_t>(offset_);
    // A TSC of at most 10 MHz: elapsed * 10^7 / tsc_hz without a 128-bit division. Whole
    // seconds and the remainder are converted separately; the remainder is below tsc_hz
    // <= 10^7, so its product with 10^7 fits in 64 bits.
    const uint64_t elapsed = tsc - creation_tsc_;
    return (elapsed / tsc_hz_) * kReferenceHz + (elapsed % tsc_hz_) * kReferenceHz / tsc_hz_;
}

uint64_t ReferenceClock::tsc_at(uint64_t reference) const {
    if (reference == kNoReferenceTime)
        return kNoTscDeadline;
    // Exact: creation_tsc + ceil(reference * tsc_hz / 10^7), in 64-bit pieces (no 128-bit
    // division): reference = q * 10^7 + r and tsc_hz = a * 10^7 + b, so the product over 10^7
    // is q * tsc_hz + r * a + r * b / 10^7 with r, b < 10^7.
    const uint64_t q = reference / kReferenceHz;
    const uint64_t r = reference % kReferenceHz;
    const uint64_t a = tsc_hz_ / kReferenceHz;
    const uint64_t b = tsc_hz_ % kReferenceHz;
    uint64_t ticks = 0;
    uint64_t whole = 0;
    if (__builtin_mul_overflow(q, tsc_hz_, &whole) ||
        __builtin_add_overflow(whole, r * a + (r * b + kReferenceHz - 1) / kReferenceHz, &ticks) ||
        __builtin_add_overflow(ticks, creation_tsc_, &ticks))
        return kNoTscDeadline;
    // time_at() rounds down (scale and offset are truncated): step until it agrees, so a
    // timer armed for the result never finds itself early.
    const uint64_t step = a + 1;
    for (int i = 0; i < 4 && time_at(ticks) < reference; ++i) {
        if (__builtin_add_overflow(ticks, step, &ticks))
            return kNoTscDeadline;
    }
    return ticks;
}

TscPageHeader ReferenceClock::page_header() const {
    TscPageHeader header{};
    const uint32_t sequence = page_valid_ ? 1 : 0;
    memcpy(header.data() + 0, &sequence, sizeof(sequence)); // 4 reserved bytes follow
    memcpy(header.data() + 8, &scale_, sizeof(scale_));
    memcpy(header.data() + 16, &offset_, sizeof(offset_));
    return header;
}

} // namespace halcyon::vmm::hyperv
