// The shutdown IC (see shutdown_ic.hpp).
#include "vmm/vmbus/ic/shutdown_ic.hpp"

namespace halcyon::vmm::vmbus::ic {

const char* shutdown_result_name(ShutdownResult result) {
    switch (result) {
    case ShutdownResult::none:
        return "none";
    case ShutdownResult::queued:
        return "queued";
    case ShutdownResult::sent:
        return "sent";
    case ShutdownResult::accepted:
        return "accepted";
    case ShutdownResult::refused:
        return "refused";
    case ShutdownResult::timed_out:
        return "timed out";
    case ShutdownResult::unavailable:
        return "unavailable";
    }
    return "unknown";
}

ShutdownIc::ShutdownIc(EndpointSource& endpoints, const ShutdownConfig& config)
    : IcService(endpoints, {kShutdownInterface, MessageType::shutdown, kShutdownVersions},
                config.ic),
      answer_timeout_ms_(config.answer_timeout_ms),
      guest_timeout_seconds_(config.guest_timeout_seconds) {}

bool ShutdownIc::available() const {
    mm::SpinLockGuard guard(lock());
    return ready_locked();
}

ErrorOr<void> ShutdownIc::request(ShutdownKind kind, bool force, uint64_t now) {
    mm::SpinLockGuard guard(lock());
    if (!ready_locked())
        return Error(ErrorCode::not_supported, "shutdown IC: the guest's service is not ready");
    if (outcome_.result == ShutdownResult::queued || outcome_.result == ShutdownResult::sent ||
        awaiting_answer_)
        return Error(ErrorCode::busy, "shutdown IC: a request is already in progress");
    const Version version = message_version_locked();
    const bool knows_restart = version.major > 3 || (version.major == 3 && version.minor >= 1);
    if (kind == ShutdownKind::restart && !knows_restart)
        return Error(ErrorCode::not_supported, "shutdown IC: the guest cannot restart on request");
    outcome_ = {};
    outcome_.result = ShutdownResult::queued;
    outcome_.kind = kind;
    outcome_.force = force;
    const uint64_t wait = ticks(answer_timeout_ms_);
    deadline_ = now + wait < now ? ~uint64_t{0} : now + wait;
    pump_locked(now);
    return {};
}

ShutdownOutcome ShutdownIc::outcome() const {
    mm::SpinLockGuard guard(lock());
    return outcome_;
}

bool ShutdownIc::build_request(uint64_t now, std::span<uint8_t> body, Request& request) {
    if (outcome_.result != ShutdownResult::queued)
        return false;
    uint32_t flags = outcome_.force ? shutdown_msg::kFlagForce : 0;
    if (outcome_.kind == ShutdownKind::restart)
        flags |= shutdown_msg::kFlagRestart;
    store_le32(&body[shutdown_msg::kReasonCode], shutdown_msg::kReasonPlanned);
    store_le32(&body[shutdown_msg::kTimeoutSeconds], guest_timeout_seconds_);
    store_le32(&body[shutdown_msg::kFlags], flags);
    request.body_bytes = shutdown_msg::kBytes;
    // What is left of the caller's deadline (at least 1 ms so an overdue send still times out).
    const uint64_t left = deadline_ > now ? deadline_ - now : 0;
    const uint64_t per_ms = ticks(1) != 0 ? ticks(1) : 1;
    const uint64_t left_ms = left / per_ms;
    request.timeout_ms = left_ms == 0            ? 1
                         : left_ms > 0xFFFFFFFFu ? 0xFFFFFFFFu
                                                 : static_cast<uint32_t>(left_ms);
    return true;
}

void ShutdownIc::on_sent(uint64_t) {
    outcome_.result = ShutdownResult::sent;
    awaiting_answer_ = true;
}

ErrorOr<void> ShutdownIc::on_response(uint64_t, uint32_t status, std::span<const uint8_t> body,
                                      bool) {
    if (body.size() < shutdown_msg::kBytes)
        return Error(ErrorCode::invalid_argument, "shutdown IC: answer shorter than the message");
    awaiting_answer_ = false;
    outcome_.status = status;
    outcome_.result = status == kStatusOk ? ShutdownResult::accepted : ShutdownResult::refused;
    return {};
}

void ShutdownIc::on_timeout(uint64_t) {
    if (outcome_.result == ShutdownResult::sent)
        outcome_.result = ShutdownResult::timed_out;
}

void ShutdownIc::on_tick(uint64_t now) {
    // Queued but never sent (no ring space) within the caller's deadline.
    if (outcome_.result == ShutdownResult::queued && now >= deadline_)
        outcome_.result = ShutdownResult::timed_out;
}

void ShutdownIc::on_session(bool open) {
    awaiting_answer_ = false;
    if (open)
        return;
    // A guest that accepted closes its channels while it goes down: that is the expected end.
    if (outcome_.result == ShutdownResult::queued || outcome_.result == ShutdownResult::sent)
        outcome_.result = ShutdownResult::unavailable;
}

} // namespace halcyon::vmm::vmbus::ic
