// The partition reference time: 100 ns units since the partition was created, derived from the
// guest TSC (TLFS "Timers": the reference counter MSR and the reference TSC page). Both views
// use the same formula the TLFS gives the guest for the page,
//     reference = ((tsc * scale) >> 64) + offset        (64x64->128 multiply, 64-bit wrap)
// with scale = floor(2^64 * 10^7 / tsc_hz) and offset = -((creation_tsc * scale) >> 64), so the
// MSR and the page never disagree and the time is 0 at creation and monotonic after it. It is
// within one unit (100 ns) of the exact count: the integer offset drops the fraction of
// creation_tsc * scale, and the scale is rounded down.
// The scale fits in 64 bits only for TSCs faster than 10 MHz; for slower ones the page is
// marked invalid (sequence 0) and the guest falls back to the MSR, which then divides exactly.
#pragma once

#include <array>
#include <stdint.h>

namespace halcyon::vmm::hyperv {

inline constexpr uint64_t kReferenceHz = 10'000'000;       // 100 ns units
inline constexpr uint64_t kNoReferenceTime = ~uint64_t{0}; // "never" (SyntheticTimer::kNever)
inline constexpr uint64_t kNoTscDeadline = ~uint64_t{0};

// The first bytes of HV_REFERENCE_TSC_PAGE (the rest of the page is zero).
inline constexpr size_t kTscPageHeaderSize = 24;
using TscPageHeader = std::array<uint8_t, kTscPageHeaderSize>;

class ReferenceClock {
public:
    ReferenceClock(uint64_t tsc_hz, uint64_t creation_tsc);

    // Reference time at guest TSC `tsc` (HV_X64_MSR_TIME_REF_COUNT).
    [[nodiscard]] uint64_t time_at(uint64_t tsc) const;
    // The guest TSC at which the reference time reaches `reference`: time_at(result) >=
    // reference, and at most about one reference unit (100 ns) later than exact. kNoTscDeadline for
    // kNoReferenceTime or a time beyond the TSC's range. For arming a host timer for a
    // synthetic timer's expiration.
    [[nodiscard]] uint64_t tsc_at(uint64_t reference) const;

    // Whether the reference TSC page can express this TSC (tsc_hz > 10 MHz).
    [[nodiscard]] bool page_valid() const { return page_valid_; }
    [[nodiscard]] uint64_t scale() const { return scale_; }
    [[nodiscard]] int64_t offset() const { return offset_; }
    // TscSequence, TscScale and TscOffset as the page holds them: sequence 1 when valid (it
    // never changes: no migration), 0 when the guest must use the MSR.
    [[nodiscard]] TscPageHeader page_header() const;

private:
    uint64_t tsc_hz_;
    uint64_t creation_tsc_;
    uint64_t scale_ = 0;
    int64_t offset_ = 0;
    bool page_valid_ = false;
};

// floor(2^64 * numerator / denominator) for numerator < denominator, by binary long division
// (no 128-bit division: the core does not link compiler-rt).
[[nodiscard]] uint64_t fraction_of_2_pow_64(uint64_t numerator, uint64_t denominator);

} // namespace halcyon::vmm::hyperv
