// The heartbeat integration service: the host sends a sequence number, the guest answers it
// plus one. Linux's hv_utils does exactly that (and leaves the rest of the message as sent, so
// its application state reads "unknown"). The outcome is the VM's health that Get-VM shows.
//
// Timing rules (settings in HeartbeatConfig):
//   * a heartbeat goes out every interval (default 2 s, Hyper-V's period) counted from the last
//     answer; never more than one in flight;
//   * Ok...      the last heartbeat was answered and the one in flight (if any) is not overdue;
//   * LostCommunication  the guest answered before in this session, but the heartbeat in flight
//                is unanswered past answer_timeout (default 10 s); a late answer makes it Ok again;
//   * NoContact  the channel is not open, the versions are not agreed yet (or NEGOTIATE went
//                unanswered), or no heartbeat was answered yet in this session;
//   * Error      the guest shares no version with us, or answers with a failure status.
//
// Wire message (heartbeat_msg_data, 40 bytes after the IC header): u64 seq_num, then 32 bytes
// Linux calls reserved; Hyper-V's version 3 guests put their application state (u32) first.
#pragma once

#include "vmm/vmbus/ic/ic_service.hpp"

namespace halcyon::vmm::vmbus::ic {

namespace heartbeat_msg {
inline constexpr uint32_t kSequence = 0;
inline constexpr uint32_t kApplicationState = 8;
inline constexpr uint32_t kBytes = 40;
} // namespace heartbeat_msg

enum class HeartbeatStatus : uint8_t { no_contact, ok, lost_communication, error };
enum class ApplicationState : uint32_t { unknown = 0, healthy = 1, critical = 2, stopped = 3 };

// Get-VM's Heartbeat value (Hyper-V's VMHeartbeatStatus names): "NoContact",
// "OkApplicationsUnknown", "OkApplicationsHealthy", "OkApplicationsCritical",
// "LostCommunication", "Error".
[[nodiscard]] const char* heartbeat_display_name(HeartbeatStatus status,
                                                 ApplicationState application);

struct HeartbeatInfo {
    HeartbeatStatus status = HeartbeatStatus::no_contact;
    ApplicationState application = ApplicationState::unknown;
    uint64_t answered = 0;     // heartbeats answered in this session
    uint64_t last_contact = 0; // TSC of the last answer (0: none in this session)
    uint64_t sequence = 0;     // the last sequence number the guest returned
};

struct HeartbeatConfig {
    IcServiceConfig ic{kHeartbeatInstance};
    uint32_t interval_ms = 2000;
    uint32_t answer_timeout_ms = 10000;
};

class HeartbeatIc final : public IcService {
public:
    HeartbeatIc(EndpointSource& endpoints, const HeartbeatConfig& config);
    [[nodiscard]] HeartbeatInfo info() const;

private:
    [[nodiscard]] bool build_request(uint64_t now, std::span<uint8_t> body,
                                     Request& request) override;
    void on_sent(uint64_t now) override;
    [[nodiscard]] ErrorOr<void> on_response(uint64_t now, uint32_t status,
                                            std::span<const uint8_t> body, bool late) override;
    void on_timeout(uint64_t now) override;
    void on_session(bool open) override;
    void on_ready(uint64_t now) override;

    uint32_t interval_ms_;
    uint32_t answer_timeout_ms_;
    HeartbeatInfo info_;
    bool contact_ = false;
    bool failed_ = false;
    uint64_t next_sequence_ = 1;
    uint64_t next_due_ = 0;
};

} // namespace halcyon::vmm::vmbus::ic
