#include "mgmt/net/netif_glue.hpp"

#include "mgmt/net/lwip_cxx.hpp"

#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/ip4_addr.h"
#include "lwip/ip6_addr.h"
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
    // MLD6 makes lwIP send the reports routers expect; the groups it joins also reach the
    // driver's receive filter (virtio-net passes every multicast frame anyway, the e1000 family
    // filters by hash).
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_MLD6;
    netif->output = etharp_output;
    netif->output_ip6 = ethip6_output;
    netif->linkoutput = link_output;
#if LWIP_IPV6 && LWIP_IPV6_MLD
    netif->mld_mac_filter = mld_filter;
#endif
    return ERR_OK;
}

#if LWIP_IPV6 && LWIP_IPV6_MLD
// IPv6 multicast to Ethernet: 33:33 and the group's last 32 bits (RFC 2464, 7).
err_t NicNetif::mld_filter(struct netif* netif, const ip6_addr_t* group,
                           enum netif_mac_filter_action action) {
    auto* self = static_cast<NicNetif*>(netif->state);
    if (action != NETIF_ADD_MAC_FILTER)
        return ERR_OK; // hash filters cannot drop one group safely; a wider filter is harmless
    const uint32_t last = lwip_ntohl(group->addr[3]);
    const drivers::MacAddress mac = {0x33,
                                     0x33,
                                     static_cast<uint8_t>(last >> 24),
                                     static_cast<uint8_t>(last >> 16),
                                     static_cast<uint8_t>(last >> 8),
                                     static_cast<uint8_t>(last)};
    return self->driver_->accept_multicast(mac).is_error() ? ERR_IF : ERR_OK;
}
#endif

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

ErrorOr<void> NicNetif::attach(drivers::Nic& driver) {
    driver_ = &driver;
    if (netif_add(&netif_, IP4_ADDR_ANY4, IP4_ADDR_ANY4, IP4_ADDR_ANY4, this, init, netif_input) ==
        nullptr)
        return Error(ErrorCode::io, "lwIP refused the network interface");
#if LWIP_IPV6 && LWIP_IPV6_MLD
    // lwIP never joins the all-nodes group through MLD (it is implicit): the driver is told
    // here, as lwIP's netif documentation asks of drivers with MAC filters.
    ip6_addr_t all_nodes;
    ip6_addr_set_allnodes_linklocal(&all_nodes);
    if (mld_filter(&netif_, &all_nodes, NETIF_ADD_MAC_FILTER) != ERR_OK)
        return Error(ErrorCode::io, "the NIC refused the IPv6 all-nodes multicast group");
#endif
    netif_set_default(&netif_);
    netif_set_up(&netif_);
    if (driver.link_up())
        netif_set_link_up(&netif_);
    return {};
}

void NicNetif::deliver(std::span<const uint8_t> frame) {
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
}

size_t NicNetif::poll() {
    const bool link = driver_->link_up();
    if (link != netif_is_link_up(&netif_)) {
        if (link)
            netif_set_link_up(&netif_);
        else
            netif_set_link_down(&netif_);
    }
    return driver_->poll(*this, 32);
}

} // namespace halcyon::mgmt::net
