// An lwIP network interface over the management NIC's driver (drivers::Nic: virtio-net, e1000
// or e1000e): frames out through linkoutput (copied straight into the driver's DMA buffer),
// frames in through poll() (copied into pool pbufs, since lwIP keeps them past the call while
// the driver re-posts its buffer at once), multicast groups lwIP joins (IPv6 neighbour
// discovery) passed on to the driver's receive filter.
#pragma once

#include "drivers/net/nic.hpp"
#include "lib/base/error_or.hpp"
#include "mgmt/net/lwip_cxx.hpp"

#include "lwip/netif.h"

namespace halcyon::mgmt::net {

struct NetifStats {
    uint64_t input_dropped = 0;  // no pbuf for a received frame, or lwIP refused it
    uint64_t output_dropped = 0; // every transmit buffer in flight
};

class NicNetif final : private drivers::FrameSink {
public:
    // Adds the interface to lwIP (no address yet) and brings it up; `driver` must be started.
    [[nodiscard]] ErrorOr<void> attach(drivers::Nic& driver);
    // Receives what the device has (bounded batch) and hands it to lwIP.
    size_t poll();

    [[nodiscard]] struct netif& netif() { return netif_; }
    [[nodiscard]] const NetifStats& stats() const { return stats_; }

private:
    static err_t init(struct netif* netif);
    static err_t link_output(struct netif* netif, struct pbuf* p);
#if LWIP_IPV6 && LWIP_IPV6_MLD
    static err_t mld_filter(struct netif* netif, const ip6_addr_t* group,
                            enum netif_mac_filter_action action);
#endif
    void deliver(std::span<const uint8_t> frame) override;

    struct netif netif_ {};
    drivers::Nic* driver_ = nullptr;
    NetifStats stats_;
};

} // namespace halcyon::mgmt::net
