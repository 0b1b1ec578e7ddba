// The heartbeat IC (see heartbeat_ic.hpp).
#include "vmm/vmbus/ic/heartbeat_ic.hpp"

namespace halcyon::vmm::vmbus::ic {

const char* heartbeat_display_name(HeartbeatStatus status, ApplicationState application) {
    switch (status) {
    case HeartbeatStatus::no_contact:
        return "NoContact";
    case HeartbeatStatus::lost_communication:
        return "LostCommunication";
    case HeartbeatStatus::error:
        return "Error";
    case HeartbeatStatus::ok:
        break;
    }
    switch (application) {
    case ApplicationState::healthy:
        return "OkApplicationsHealthy";
    case ApplicationState::critical:
    case ApplicationState::stopped:
        return "OkApplicationsCritical";
    case ApplicationState::unknown:
        break;
    }
    return "OkApplicationsUnknown";
}

HeartbeatIc::HeartbeatIc(EndpointSource& endpoints, const HeartbeatConfig& config)
    : IcService(endpoints, {kHeartbeatInterface, MessageType::heartbeat, kHeartbeatVersions},
                config.ic),
      interval_ms_(config.interval_ms), answer_timeout_ms_(config.answer_timeout_ms) {}

HeartbeatInfo HeartbeatIc::info() const {
    mm::SpinLockGuard guard(lock());
    HeartbeatInfo info = info_;
    if (state_locked() == IcState::incompatible || failed_)
        info.status = HeartbeatStatus::error;
    else if (state_locked() != IcState::ready)
        info.status = HeartbeatStatus::no_contact;
    return info;
}

bool HeartbeatIc::build_request(uint64_t now, std::span<uint8_t> body, Request& request) {
    if (now < next_due_)
        return false;
    store_le64(&body[heartbeat_msg::kSequence], next_sequence_);
    request.body_bytes = heartbeat_msg::kBytes;
    request.timeout_ms = answer_timeout_ms_;
    return true;
}

void HeartbeatIc::on_sent(uint64_t) {}

ErrorOr<void> HeartbeatIc::on_response(uint64_t now, uint32_t status, std::span<const uint8_t> body,
                                       bool) {
    if (body.size() < heartbeat_msg::kBytes)
        return Error(ErrorCode::invalid_argument, "heartbeat IC: answer shorter than the message");
    const uint64_t sequence = load_le64(&body[heartbeat_msg::kSequence]);
    if (sequence != next_sequence_ + 1)
        return Error(ErrorCode::invalid_argument, "heartbeat IC: guest did not return seq + 1");
    next_due_ = now + ticks(interval_ms_);
    next_sequence_ = sequence;
    if (status != kStatusOk) {
        failed_ = true;
        return {};
    }
    failed_ = false;
    contact_ = true;
    info_.status = HeartbeatStatus::ok;
    const uint32_t application = load_le32(&body[heartbeat_msg::kApplicationState]);
    info_.application = application <= static_cast<uint32_t>(ApplicationState::stopped)
                            ? static_cast<ApplicationState>(application)
                            : ApplicationState::unknown;
    info_.sequence = sequence;
    info_.last_contact = now;
    ++info_.answered;
    return {};
}

void HeartbeatIc::on_timeout(uint64_t) {
    info_.status = contact_ ? HeartbeatStatus::lost_communication : HeartbeatStatus::no_contact;
}

void HeartbeatIc::on_session(bool) {
    // A new or ended connection of the guest's driver: no contact until it answers again.
    contact_ = false;
    failed_ = false;
    info_ = {};
    next_due_ = 0;
}

void HeartbeatIc::on_ready(uint64_t now) {
    next_due_ = now;
}

} // namespace halcyon::vmm::vmbus::ic
