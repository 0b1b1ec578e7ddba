// How an integration service reaches its channel when no guest packet is being handled: the IC
// protocol is host-initiated (the host sends NEGOTIATE, heartbeats, time samples, shutdown and
// KVP requests from its own timer), so a service needs the ChannelEndpoint of its open channel
// outside on_packet.
//
// This is the seam addition the ICs need from vmm/vmbus/channel_device.hpp, coded here as a local
// interface until it lands: ChannelHost gains exactly this method, with this signature and
// contract (VmbusHost::endpoint() already implements it). When it does, EndpointSource becomes an
// alias of ChannelHost and VmbusEndpoints below goes away.
#pragma once

#include "vmm/vmbus/channel_device.hpp"

#include <stdint.h>

namespace halcyon::vmm::vmbus::ic {

class EndpointSource {
public:
    virtual ~EndpointSource() = default;
    // The endpoint of `device`'s open channel `subchannel`, or nullptr if that channel is not
    // open (not yet opened by the guest, closed, faulted, rescinded). The pointer stays valid
    // until that channel's on_close; sends through it are safe from any context (the host
    // serializes each ring's writers) and fail cleanly once the channel closes. Must not take
    // locks a ChannelDevice call may hold (the host's device lock): services call it from their
    // own tick() while holding their own lock, which their on_packet also takes.
    [[nodiscard]] virtual ChannelEndpoint* endpoint(ChannelDevice& device, uint16_t subchannel) = 0;
};

// Adapter for a host that has the method but not the interface yet (VmbusHost today).
template <typename Host>
class VmbusEndpoints final : public EndpointSource {
public:
    explicit VmbusEndpoints(Host& host) : host_(host) {}
    [[nodiscard]] ChannelEndpoint* endpoint(ChannelDevice& device, uint16_t subchannel) override {
        return host_.endpoint(device, subchannel);
    }

private:
    Host& host_;
};

} // namespace halcyon::vmm::vmbus::ic
