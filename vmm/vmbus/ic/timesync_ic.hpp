// The time synchronization integration service: the host sends its UTC time; the guest answers
// each sample. After the versions are agreed the first message is a SYNC (Linux 6.1 then sets
// its clock: do_settimeofday64 with the sample corrected for transit time); after it, SAMPLE
// messages every interval (default 5 s, as OpenVMM) which Linux keeps for its Hyper-V PTP clock
// (/dev/ptp_hyperv, for chrony) without stepping the clock. request_sync() sends another SYNC
// (after the VM was paused or restored).
//
// Wire messages (after the IC header), by agreed version:
//   4.0 (ictimesync_ref_data, 22 bytes): u64 parent_time, u64 vm_reference_time, u8 flags,
//       u8 leap flags, u8 stratum, u8 reserved[3] — Linux 6.1 agrees 4.0;
//   3.0/1.0 (ictimesync_data, 25 bytes): u64 parent_time, u64 child_time, u64 round_trip, u8 flags.
// parent_time: UTC in 100 ns units since 1601; vm_reference_time: the guest's reference counter
// when the sample was taken. Flags: 1 = SYNC, 2 = SAMPLE.
#pragma once

#include "vmm/vmbus/ic/ic_service.hpp"
#include "vmm/vmbus/ic/time_source.hpp"

namespace halcyon::vmm::vmbus::ic {

namespace timesync_msg {
inline constexpr uint32_t kParentTime = 0;
inline constexpr uint32_t kReferenceTime = 8; // 4.0
inline constexpr uint32_t kFlagsV4 = 16;
inline constexpr uint32_t kBytesV4 = 22;
inline constexpr uint32_t kChildTime = 8;  // 1.0/3.0
inline constexpr uint32_t kRoundTrip = 16; // 1.0/3.0
inline constexpr uint32_t kFlagsV1 = 24;
inline constexpr uint32_t kBytesV1 = 25;
inline constexpr uint8_t kFlagSync = 1;
inline constexpr uint8_t kFlagSample = 2;
} // namespace timesync_msg

struct TimesyncInfo {
    bool responding = true; // false: the sample in flight is unanswered past its timeout
    uint64_t syncs_sent = 0;
    uint64_t samples_sent = 0;
    uint64_t answered = 0;
    uint64_t refused = 0;         // answers with a failure status
    uint64_t last_host_time = 0;  // parent_time of the last message sent
    uint64_t source_failures = 0; // samples not sent because the time source failed
};

struct TimesyncConfig {
    IcServiceConfig ic{kTimesyncInstance};
    uint32_t sample_interval_ms = 5000;
    uint32_t answer_timeout_ms = 5000;
};

class TimesyncIc final : public IcService {
public:
    TimesyncIc(EndpointSource& endpoints, TimeSource& time, const TimesyncConfig& config);
    // Sends a SYNC with the next message (now, if the service is ready and idle).
    void request_sync(uint64_t now);
    [[nodiscard]] TimesyncInfo info() const;

private:
    [[nodiscard]] bool build_request(uint64_t now, std::span<uint8_t> body,
                                     Request& request) override;
    void on_sent(uint64_t now) override;
    [[nodiscard]] ErrorOr<void> on_response(uint64_t now, uint32_t status,
                                            std::span<const uint8_t> body, bool late) override;
    void on_timeout(uint64_t now) override;
    void on_session(bool open) override;
    void on_ready(uint64_t now) override;

    TimeSource& time_;
    uint32_t sample_interval_ms_;
    uint32_t answer_timeout_ms_;
    TimesyncInfo info_;
    bool sync_pending_ = false;
    uint64_t next_due_ = 0;
    uint64_t built_host_time_ = 0; // scratch: the sample build_request() put in the message
    uint64_t failure_reported_at_ = ~uint64_t{0};
};

} // namespace halcyon::vmm::vmbus::ic
