// Where the timesync service gets the host's time: the UTC time to give the guest and, at the
// same instant, the guest's partition reference time (the Hyper-V reference counter the guest
// reads), so that a timesync 4.0 guest can correct the sample for the time it spent in transit.
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/hyperv/reference_clock.hpp"

#include <stdint.h>

namespace halcyon::vmm::vmbus::ic {

// 100 ns intervals from 1601-01-01 (the Windows epoch the protocol uses) to 1970-01-01.
inline constexpr uint64_t kUnixEpochIn100ns = 116444736000000000ull;

struct TimeSample {
    uint64_t host_time = 0;      // UTC, 100 ns units since 1601-01-01
    uint64_t reference_time = 0; // the guest's reference counter at that instant (100 ns units)
};

class TimeSource {
public:
    virtual ~TimeSource() = default;
    // The time at host TSC `now`. An error (e.g. the host's wall clock is unknown) means no
    // sample is sent.
    [[nodiscard]] virtual ErrorOr<TimeSample> sample(uint64_t now) = 0;
};

// The usual source: the partition's ReferenceClock gives the reference time, and UTC is the
// UTC at the partition's creation (reference time 0) plus the reference time, both in 100 ns.
class PartitionTimeSource final : public TimeSource {
public:
    // `utc_at_creation`: UTC in 100 ns units since 1601 when the partition was created; 0 means
    // unknown (sample() then fails).
    PartitionTimeSource(const hyperv::ReferenceClock& clock, uint64_t utc_at_creation)
        : clock_(clock), utc_at_creation_(utc_at_creation) {}
    [[nodiscard]] ErrorOr<TimeSample> sample(uint64_t now) override {
        if (utc_at_creation_ == 0)
            return Error(ErrorCode::not_found, "timesync: the host's UTC time is unknown");
        const uint64_t reference = clock_.time_at(now);
        return TimeSample{utc_at_creation_ + reference, reference};
    }
    // UTC from Unix seconds (e.g. the host RTC read at boot), in the protocol's units.
    [[nodiscard]] static constexpr uint64_t utc_from_unix_seconds(uint64_t seconds) {
        return kUnixEpochIn100ns + seconds * 10'000'000ull;
    }

private:
    const hyperv::ReferenceClock& clock_;
    uint64_t utc_at_creation_;
};

} // namespace halcyon::vmm::vmbus::ic
