#include "mgmt/net/netif_glue.hpp"

#include "mgmt/net/lwip_cxx.hpp"

#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/ip4_addr.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

#include <string.h>

namespace halcyon::mgmt::net {

err_t NicNetif::init(struct netif* netif) {
    auto* self = static_cast<NicNetif*>(netif->state);
    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->hwaddr_len = 6;
    memcpy(netif->hwaddr, self->driver_->mac().data(), 6);
    netif->mtu = 1500;
    // The device is not told about multicast filters (no VIRTIO_NET_F_CTRL_RX), so it passes
    // every multicast frame; MLD6 only makes lwIP send the reports routers expect.
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_MLD6;
    netif->output = etharp_output;
    netif->output_ip6 = ethip6_output;
    netif->linkoutput = link_output;
    return ERR_OK;
}

err_t NicNetif::link_output(struct netif* netif, struct pbuf* p) {
    auto* self = static_cast<NicNetif*>(netif->state);
    auto buffer = self->driver_->transmit_buffer();
    if (buffer.is_error()) {
        ++self->stats_.output_dropped;
        return ERR_MEM;
    }
    if (p->tot_len > buffer.value().size())
        return ERR_BUF;
    const u16_t copied = pbuf_copy_partial(p, buffer.value().data(), p->tot_len, 0);
    if (self->driver_->transmit(copied).is_error()) {
        ++self->stats_.output_dropped;
        return ERR_IF;
    }
    return ERR_OK;
}

ErrorOr<void> NicNetif::attach(drivers::VirtioNet& driver) {
    driver_ = &driver;
    if (netif_add(&netif_, IP4_ADDR_ANY4, IP4_ADDR_ANY4, IP4_ADDR_ANY4, this, init, netif_input) ==
        nullptr)
        return Error(ErrorCode::io, "lwIP refused the network interface");
    netif_set_default(&netif_);
    netif_set_up(&netif_);
    if (driver.link_up())
        netif_set_link_up(&netif_);
    return {};
}

size_t NicNetif::poll() {
    if (driver_->link_up() != netif_is_link_up(&netif_)) {
        if (driver_->link_up())
            netif_set_link_up(&netif_);
        else
            netif_set_link_down(&netif_);
    }
    return driver_->poll([this](std::span<const uint8_t> frame) {
        struct pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(frame.size()), PBUF_POOL);
        if (p == nullptr) {
            ++stats_.input_dropped;
            return;
        }
        if (pbuf_take(p, frame.data(), static_cast<u16_t>(frame.size())) != ERR_OK ||
            netif_.input(p, &netif_) != ERR_OK) {
            pbuf_free(p);
            ++stats_.input_dropped;
        }
    });
}

} // namespace halcyon::mgmt::net
