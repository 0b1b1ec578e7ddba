// The VM manager's state machine, pure (unit-tested on the host): which management operation a
// VM's state allows, what state follows, how a VM that stopped ends up, and how a graceful stop
// escalates. The manager (vm_manager.cpp) applies these decisions to the worker's VMs.
//
//   Off/Crashed --Start-VM--> Starting --every vCPU picked up by its CPU--> Running
//   Running --Stop-VM (graceful)--> Stopping --guest powers off--> Off
//   Running/Starting/Stopping/Paused --Stop-VM -Force/-TurnOff--> Stopping (until the CPUs have
//       let go of the VM, a few ms) --> Off
//   Running/Starting --Suspend-VM--> Paused --Resume-VM--> Running
//   Running/Starting/Paused --Restart-VM (a hard reset, as Hyper-V's)--> Running
//   any live state --the guest stops by itself--> Off (power-off, every vCPU halted) or
//       Crashed (triple fault, an intercept the worker cannot handle, a build failure)
//   Off/Crashed --Remove-VM--> (gone); Set-VM only there too
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/vmbus/ic/shutdown_ic.hpp"

#include <stdint.h>

namespace halcyon::worker {

enum class LifeState : uint8_t { off, starting, running, stopping, paused, crashed };

enum class LifeOp : uint8_t {
    start,
    stop_graceful, // the shutdown integration service, else the ACPI power button
    stop_now,      // Stop-VM -Force / -TurnOff: power off at once
    restart,
    suspend,
    resume,
    remove,
    change, // Set-VM
};

// Why a VM's worker stopped it (Vm::stop).
enum class StopCause : uint8_t {
    guest_poweroff, // ACPI S5
    guest_halted,   // every vCPU halted with interrupts disabled (how flat test guests end)
    turned_off,     // the management stopped it (Stop-VM -Force/-TurnOff)
    failure,        // triple fault, an intercept or device the worker cannot handle, a bad image
};

// Whether the VM holds a worker VM (partition, memory, vCPUs on CPUs).
[[nodiscard]] constexpr bool is_live(LifeState state) {
    return state != LifeState::off && state != LifeState::crashed;
}

// The state after `op` in `state`, or busy (HTTP 409) saying why the state does not allow it.
// Operations that change nothing (a second graceful stop while stopping, a suspend while paused)
// are allowed and keep the state.
[[nodiscard]] inline ErrorOr<LifeState> lifecycle_transition(LifeState state, LifeOp op) {
    const bool live = is_live(state);
    switch (op) {
    case LifeOp::start:
        if (!live)
            return LifeState::starting;
        if (state == LifeState::paused)
            return Error(ErrorCode::busy, "the VM is paused: use Resume-VM");
        return Error(ErrorCode::busy, "the VM is already running");
    case LifeOp::stop_graceful:
        if (state == LifeState::paused)
            return Error(ErrorCode::busy,
                         "a paused VM cannot shut down: use Resume-VM first, or Stop-VM -TurnOff");
        if (!live)
            return Error(ErrorCode::busy, "the VM is not running");
        return LifeState::stopping;
    case LifeOp::stop_now:
        if (!live)
            return Error(ErrorCode::busy, "the VM is not running");
        return LifeState::stopping;
    case LifeOp::restart:
        if (state == LifeState::stopping)
            return Error(ErrorCode::busy, "the VM is stopping");
        if (!live)
            return Error(ErrorCode::busy, "the VM is not running: use Start-VM");
        return LifeState::running;
    case LifeOp::suspend:
        if (state == LifeState::stopping)
            return Error(ErrorCode::busy, "the VM is stopping");
        if (!live)
            return Error(ErrorCode::busy, "the VM is not running");
        return LifeState::paused;
    case LifeOp::resume:
        if (state != LifeState::paused)
            return Error(ErrorCode::busy, "the VM is not paused");
        return LifeState::running;
    case LifeOp::remove:
    case LifeOp::change:
        if (live)
            return Error(ErrorCode::busy, "the VM is not off: stop it first");
        return state;
    }
    return Error(ErrorCode::invalid_argument, "unknown operation");
}

// The state of a VM whose worker stopped it for `cause`, once its memory is freed.
[[nodiscard]] constexpr LifeState state_after_stop(StopCause cause) {
    return cause == StopCause::failure ? LifeState::crashed : LifeState::off;
}

// A graceful Stop-VM in progress. It asks through the guest's shutdown integration service when
// the guest bound it, else presses the ACPI power button; if the service refuses, does not
// answer in time or closes before answering, it falls back to the power button once. Then it
// waits for the guest to power off (Stop-VM -TurnOff ends the wait).
enum class GracefulAction : uint8_t { wait, press_power_button };

class GracefulStop {
public:
    // How the stop starts: true when the shutdown request went out to the guest's service.
    explicit GracefulStop(bool through_service) : through_service_(through_service) {}

    [[nodiscard]] GracefulAction first_action() const {
        return through_service_ ? GracefulAction::wait : GracefulAction::press_power_button;
    }

    // Each manager tick with the service's latest outcome (ignored once on the power button).
    [[nodiscard]] GracefulAction step(vmm::vmbus::ic::ShutdownResult outcome) {
        using vmm::vmbus::ic::ShutdownResult;
        if (!through_service_ || fell_back_)
            return GracefulAction::wait;
        switch (outcome) {
        case ShutdownResult::refused:
        case ShutdownResult::timed_out:
        case ShutdownResult::unavailable:
        case ShutdownResult::none:
            fell_back_ = true;
            return GracefulAction::press_power_button;
        case ShutdownResult::queued:
        case ShutdownResult::sent:
        case ShutdownResult::accepted:
            break;
        }
        return GracefulAction::wait;
    }

    [[nodiscard]] bool through_service() const { return through_service_; }
    [[nodiscard]] bool fell_back() const { return fell_back_; }

private:
    bool through_service_;
    bool fell_back_ = false;
};

} // namespace halcyon::worker
