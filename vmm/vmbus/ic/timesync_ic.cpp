// The timesync IC (see timesync_ic.hpp).
#include "vmm/vmbus/ic/timesync_ic.hpp"

namespace halcyon::vmm::vmbus::ic {

TimesyncIc::TimesyncIc(EndpointSource& endpoints, TimeSource& time, const TimesyncConfig& config)
    : IcService(endpoints, {kTimesyncInterface, MessageType::timesync, kTimesyncVersions},
                config.ic),
      time_(time), sample_interval_ms_(config.sample_interval_ms),
      answer_timeout_ms_(config.answer_timeout_ms) {}

void TimesyncIc::request_sync(uint64_t now) {
    mm::SpinLockGuard guard(lock());
    sync_pending_ = true;
    pump_locked(now);
}

TimesyncInfo TimesyncIc::info() const {
    mm::SpinLockGuard guard(lock());
    return info_;
}

bool TimesyncIc::build_request(uint64_t now, std::span<uint8_t> body, Request& request) {
    if (!sync_pending_ && now < next_due_)
        return false;
    auto sample = time_.sample(now);
    if (sample.is_error()) {
        // Counted once per due time, not once per tick.
        if (failure_reported_at_ != next_due_) {
            failure_reported_at_ = next_due_;
            ++info_.source_failures;
        }
        return false;
    }
    const uint8_t flags = sync_pending_ ? timesync_msg::kFlagSync : timesync_msg::kFlagSample;
    store_le64(&body[timesync_msg::kParentTime], sample.value().host_time);
    if (message_version_locked().major >= 4) {
        store_le64(&body[timesync_msg::kReferenceTime], sample.value().reference_time);
        body[timesync_msg::kFlagsV4] = flags;
        request.body_bytes = timesync_msg::kBytesV4;
    } else {
        // Older guests take the sample as is: no child time or round trip is measured.
        body[timesync_msg::kFlagsV1] = flags;
        request.body_bytes = timesync_msg::kBytesV1;
    }
    request.timeout_ms = answer_timeout_ms_;
    built_host_time_ = sample.value().host_time;
    return true;
}

void TimesyncIc::on_sent(uint64_t now) {
    if (sync_pending_) {
        sync_pending_ = false;
        ++info_.syncs_sent;
    } else {
        ++info_.samples_sent;
    }
    info_.last_host_time = built_host_time_;
    next_due_ = now + ticks(sample_interval_ms_);
}

ErrorOr<void> TimesyncIc::on_response(uint64_t, uint32_t status, std::span<const uint8_t> body,
                                      bool) {
    const uint32_t needed =
        message_version_locked().major >= 4 ? timesync_msg::kBytesV4 : timesync_msg::kBytesV1;
    if (body.size() < needed)
        return Error(ErrorCode::invalid_argument, "timesync IC: answer shorter than the message");
    info_.responding = true;
    ++info_.answered;
    if (status != kStatusOk)
        ++info_.refused;
    return {};
}

void TimesyncIc::on_timeout(uint64_t) {
    info_.responding = false;
}

void TimesyncIc::on_session(bool) {
    sync_pending_ = false;
    info_.responding = true;
    next_due_ = 0;
}

void TimesyncIc::on_ready(uint64_t now) {
    // The guest (re)connected: give it the time at once.
    sync_pending_ = true;
    next_due_ = now;
}

} // namespace halcyon::vmm::vmbus::ic
