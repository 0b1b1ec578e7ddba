// The shutdown integration service: the host asks the guest to shut down or restart, the guest
// says yes or no. Linux's hv_utils says yes (status 0) to flags 0/1 (shut down, forced or not)
// and 2/3 (restart) and then runs orderly_poweroff()/orderly_reboot(); anything else it refuses
// with E_FAIL. A graceful Stop-VM asks here first when the service is ready, waits for the
// outcome (accepted/refused/timed out), and on acceptance waits for the VM to power off (ACPI
// S5) under its own deadline; otherwise it powers the VM off.
//
// Wire message (shutdown_msg_data, 2060 bytes after the IC header): u32 reason_code, u32
// timeout_seconds, u32 flags (bit 0 force, bit 1 restart, bit 2 hibernate), u8 message[2048].
// Linux refuses a shorter message, so all of it is sent.
#pragma once

#include "vmm/vmbus/ic/ic_service.hpp"

namespace halcyon::vmm::vmbus::ic {

namespace shutdown_msg {
inline constexpr uint32_t kReasonCode = 0;
inline constexpr uint32_t kTimeoutSeconds = 4;
inline constexpr uint32_t kFlags = 8;
inline constexpr uint32_t kDisplayMessage = 12;
inline constexpr uint32_t kBytes = 12 + 2048;
inline constexpr uint32_t kFlagForce = 1;
inline constexpr uint32_t kFlagRestart = 2;
// SHTDN_REASON_FLAG_PLANNED: what Hyper-V and OpenVMM put in reason_code.
inline constexpr uint32_t kReasonPlanned = 0x80000000;
} // namespace shutdown_msg

enum class ShutdownKind : uint8_t { shutdown, restart };

enum class ShutdownResult : uint8_t {
    none,        // nothing asked since the service was created
    queued,      // asked; waiting for ring space to send it
    sent,        // in the guest's ring, no answer yet
    accepted,    // the guest answered S_OK: it is shutting down / restarting
    refused,     // the guest answered with a failure status (outcome.status)
    timed_out,   // no answer within the timeout (a late answer still updates the result)
    unavailable, // the channel closed before the request went out
};
[[nodiscard]] const char* shutdown_result_name(ShutdownResult result);

struct ShutdownOutcome {
    ShutdownResult result = ShutdownResult::none;
    uint32_t status = 0; // the guest's HRESULT (accepted / refused)
    ShutdownKind kind = ShutdownKind::shutdown;
    bool force = false;
};

struct ShutdownConfig {
    IcServiceConfig ic{kShutdownInstance};
    // How long the guest has to answer the request (from request() to its answer).
    uint32_t answer_timeout_ms = 5000;
    // Sent to the guest in timeout_seconds (Linux ignores it; Hyper-V and OpenVMM send 0).
    uint32_t guest_timeout_seconds = 0;
};

class ShutdownIc final : public IcService {
public:
    ShutdownIc(EndpointSource& endpoints, const ShutdownConfig& config);

    // Whether request() can be used now (the guest's driver is connected and agreed a version).
    [[nodiscard]] bool available() const;
    // Asks the guest to shut down or restart (`force`: don't let applications veto it). Sends at
    // once if the ring has room, else at the next tick. not_supported: the service is not ready
    // (the caller powers the VM off instead) or a restart was asked of a guest that negotiated
    // a version older than 3.1 (which only knew flags 0 and 1); busy: a request is in progress.
    [[nodiscard]] ErrorOr<void> request(ShutdownKind kind, bool force, uint64_t now);
    [[nodiscard]] ShutdownOutcome outcome() const;

private:
    [[nodiscard]] bool build_request(uint64_t now, std::span<uint8_t> body,
                                     Request& request) override;
    void on_sent(uint64_t now) override;
    [[nodiscard]] ErrorOr<void> on_response(uint64_t now, uint32_t status,
                                            std::span<const uint8_t> body, bool late) override;
    void on_timeout(uint64_t now) override;
    void on_session(bool open) override;
    void on_tick(uint64_t now) override;

    uint32_t answer_timeout_ms_;
    uint32_t guest_timeout_seconds_;
    ShutdownOutcome outcome_;
    uint64_t deadline_ = 0;
    bool awaiting_answer_ = false; // sent (or sent and timed out) and not answered yet
};

} // namespace halcyon::vmm::vmbus::ic
