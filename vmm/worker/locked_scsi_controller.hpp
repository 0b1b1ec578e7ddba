// A VM's synthetic SCSI controller (storvsp::Controller) behind a lock of its own, so the
// management CPU can attach, detach and resize disks (the VHD verbs: hot-add, hot-remove,
// online resize) while the guest's vCPUs drive the controller on other CPUs.
//
// The controller is not thread-safe: the VMBus host serializes its on_open/on_close/on_packet
// under the device's lock, a lock the host keeps to itself. So this object is the device the
// VMBus host sees: it takes its lock around every call it forwards, and management operations
// take the same lock (with_controller). It is also the controller's ChannelHost, handing the
// controller's sub-channel offers and endpoint lookups to the VMBus host in its own name (the
// host knows this object, not the controller inside it).
//
// Header-only, so the host unit tests (worker_locked_scsi_test.cpp) drive it directly.
//
// Lock order: the VMBus host's locks (control -> device) -> this lock -> a channel's send lock;
// the management takes the VM's lock (Vm::lock) before this one when it needs both.
#pragma once

#include "lib/base/error_or.hpp"
#include "mm/spinlock.hpp"
#include "vmm/vmbus/channel_device.hpp"
#include "vmm/vmbus/storvsp/controller.hpp"

#include <stdint.h>

namespace halcyon::worker {

class LockedScsiController final : public vmm::vmbus::ChannelDevice,
                                   public vmm::vmbus::ChannelHost {
public:
    LockedScsiController(vmm::vmbus::ChannelHost& host,
                         const vmm::storvsp::ControllerConfig& config)
        : host_(host), controller_(*this, config) {}

    // Runs `work(controller)` under the lock and returns what it returns.
    template <typename Work>
    auto with_controller(Work work) {
        mm::SpinLockGuard guard(lock_);
        return work(controller_);
    }

    // Sends a pending hot-plug notification (ENUMERATE_BUS) on the primary channel now; when
    // the ring is full it stays pending (the next call, or the guest's next packet on the
    // primary channel, delivers it).
    void deliver_notifications() {
        mm::SpinLockGuard guard(lock_);
        if (!controller_.notification_pending())
            return;
        // The endpoint stays valid while the lock is held: the channel's on_close needs it too.
        vmm::vmbus::ChannelEndpoint* primary = host_.endpoint(*this, 0);
        if (primary != nullptr)
            (void)controller_.deliver_notifications(*primary); // busy: stays pending
    }

    // --- vmbus::ChannelDevice, forwarded under the lock
    [[nodiscard]] const vmm::vmbus::OfferInfo& offer() const override {
        return controller_.offer(); // fixed at construction: no lock needed
    }
    [[nodiscard]] ErrorOr<void> on_open(uint16_t subchannel) override {
        mm::SpinLockGuard guard(lock_);
        return controller_.on_open(subchannel);
    }
    void on_close(uint16_t subchannel) override {
        mm::SpinLockGuard guard(lock_);
        controller_.on_close(subchannel);
    }
    [[nodiscard]] ErrorOr<void> on_packet(uint16_t subchannel,
                                          const vmm::vmbus::IncomingPacket& packet,
                                          vmm::vmbus::ChannelEndpoint& reply,
                                          vmm::vmbus::GuestMemory& memory) override {
        mm::SpinLockGuard guard(lock_);
        return controller_.on_packet(subchannel, packet, reply, memory);
    }

    // --- vmbus::ChannelHost for the controller (called with the lock held, from inside it)
    [[nodiscard]] ErrorOr<void> offer_subchannels(vmm::vmbus::ChannelDevice&,
                                                  uint16_t count) override {
        return host_.offer_subchannels(*this, count);
    }
    [[nodiscard]] vmm::vmbus::ChannelEndpoint* endpoint(vmm::vmbus::ChannelDevice&,
                                                        uint16_t subchannel) override {
        return host_.endpoint(*this, subchannel);
    }

private:
    vmm::vmbus::ChannelHost& host_;
    mm::SpinLock lock_;
    vmm::storvsp::Controller controller_;
};

} // namespace halcyon::worker
