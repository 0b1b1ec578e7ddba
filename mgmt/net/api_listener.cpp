#include "mgmt/net/api_listener.hpp"

#include "mgmt/net/lwip_cxx.hpp"

#include "lwip/altcp.h"
#include "lwip/altcp_tcp.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "vmm/core/log.hpp"

// Every API slot needs a TCP PCB, and lwIP needs some for listening, DHCP's neighbours and
// connections in TIME_WAIT: the pool must stay well above the slot count (lwipopts.h).
static_assert(halcyon::mgmt::net::kMaxApiConnections + 16 <= MEMP_NUM_TCP_PCB,
              "MEMP_NUM_TCP_PCB too small for the API's connection slots");

namespace halcyon::mgmt::net {
namespace {

constexpr uint8_t kPollInterval = 2; // lwIP coarse timer ticks (500 ms each)

} // namespace

ErrorOr<void> ApiListener::start(uint16_t port, Server& server) {
    server_ = &server;
    // The listener is a plain TCP PCB (see on_listener_accept); each connection it accepts is
    // an altcp_pcb, so a TLS layer can still wrap the connections.
    tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
    if (pcb == nullptr)
        return Error(ErrorCode::out_of_memory, "no lwIP PCB for the API listener");
    if (tcp_bind(pcb, IP_ANY_TYPE, port) != ERR_OK) {
        tcp_close(pcb);
        return Error(ErrorCode::busy, "cannot bind the management API port");
    }
    listener_ = tcp_listen(pcb);
    if (listener_ == nullptr) {
        tcp_close(pcb);
        return Error(ErrorCode::out_of_memory, "cannot listen on the management API port");
    }
    tcp_arg(listener_, this);
    tcp_accept(listener_, on_listener_accept);
    return {};
}

// lwIP 2.1.3 calls a listener's accept callback with a null PCB and ERR_MEM when it has no PCB
// for a new connection (every one in use: a connection flood); its altcp TCP layer then
// dereferences that null PCB and the core crashes. So the listener takes the callback itself:
// that case is dropped (the client's TCP retransmits its SYN), every other new connection is
// wrapped in an altcp_pcb (as altcp_tcp_accept would) and handed to on_accept.
int8_t ApiListener::on_listener_accept(void* arg, tcp_pcb* pcb, int8_t err) {
    if (pcb == nullptr || err != ERR_OK)
        return ERR_MEM;
    altcp_pcb* connection = altcp_tcp_wrap(pcb);
    if (connection == nullptr) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    return on_accept(arg, connection, ERR_OK);
}

int8_t ApiListener::on_accept(void* arg, altcp_pcb* pcb, int8_t err) {
    auto* self = static_cast<ApiListener*>(arg);
    if (err != ERR_OK || pcb == nullptr)
        return ERR_VAL;
    Connection* slot = nullptr;
    for (Connection& connection : self->connections_) {
        if (!connection.used) {
            slot = &connection;
            break;
        }
    }
    auto id = slot != nullptr ? self->server_->open_connection(self->now_)
                              : ErrorOr<ConnectionId>(Error(ErrorCode::busy, "no slot"));
    if (id.is_error()) {
        // The server's own 503 answer, then close: the client learns why.
        const std::span<const uint8_t> busy = self->server_->busy_response(self->now_);
        (void)altcp_write(pcb, busy.data(), static_cast<u16_t>(busy.size()), TCP_WRITE_FLAG_COPY);
        (void)altcp_output(pcb);
        if (altcp_close(pcb) == ERR_OK)
            return ERR_OK;
        altcp_abort(pcb);
        return ERR_ABRT;
    }
    *slot = Connection{};
    slot->pcb = pcb;
    slot->id = id.value();
    slot->used = true;
    slot->owner = self;
    altcp_arg(pcb, slot);
    altcp_recv(pcb, on_receive);
    altcp_sent(pcb, on_sent);
    altcp_err(pcb, on_error);
    altcp_poll(pcb, on_poll, kPollInterval);
    altcp_nagle_disable(pcb); // responses are written whole; do not wait for the peer's ACK
    return ERR_OK;
}

int8_t ApiListener::on_receive(void* arg, altcp_pcb* pcb, pbuf* p, int8_t err) {
    auto* connection = static_cast<Connection*>(arg);
    if (p == nullptr) {
        // The peer closed its side: nothing more will arrive, so nothing more to answer.
        return connection->owner->close(*connection) ? ERR_OK : ERR_ABRT;
    }
    if (err != ERR_OK) {
        pbuf_free(p);
        return err;
    }
    (void)pcb;
    if (connection->pending == nullptr)
        connection->pending = p;
    else
        pbuf_cat(connection->pending, p);
    return connection->owner->service(*connection) ? ERR_OK : ERR_ABRT;
}

int8_t ApiListener::on_sent(void* arg, altcp_pcb*, uint16_t) {
    auto* connection = static_cast<Connection*>(arg);
    return connection->owner->service(*connection) ? ERR_OK : ERR_ABRT;
}

int8_t ApiListener::on_poll(void* arg, altcp_pcb*) {
    auto* connection = static_cast<Connection*>(arg);
    return connection->owner->service(*connection) ? ERR_OK : ERR_ABRT;
}

void ApiListener::on_error(void* arg, int8_t) {
    // lwIP has freed the PCB already (reset or abort): only our side is left to clean up.
    auto* connection = static_cast<Connection*>(arg);
    if (connection == nullptr || !connection->used)
        return;
    connection->pcb = nullptr;
    connection->owner->release(*connection);
}

// Offers queued input to the server until it stops taking bytes.
void ApiListener::feed(Connection& connection) {
    while (connection.pending != nullptr && connection.pcb != nullptr) {
        pbuf* head = connection.pending;
        const size_t taken = server_->receive(
            connection.id,
            std::span<const uint8_t>(static_cast<const uint8_t*>(head->payload), head->len), now_);
        if (taken == 0)
            return;
        const bool partial = taken < head->len;
        altcp_recved(connection.pcb, static_cast<u16_t>(taken));
        connection.pending = pbuf_free_header(head, static_cast<u16_t>(taken));
        if (partial)
            return; // the server filled up mid-segment
    }
}

// Moves server output into lwIP's send buffer; false when the connection was aborted.
bool ApiListener::flush(Connection& connection) {
    bool wrote = false;
    for (;;) {
        const std::span<const uint8_t> out = server_->pending_output(connection.id);
        if (out.empty())
            break;
        size_t room = altcp_sndbuf(connection.pcb);
        if (room == 0 || altcp_sndqueuelen(connection.pcb) >= TCP_SND_QUEUELEN)
            break;
        const size_t count = out.size() < room ? out.size() : room;
        const err_t err =
            altcp_write(connection.pcb, out.data(), static_cast<u16_t>(count), TCP_WRITE_FLAG_COPY);
        if (err == ERR_MEM)
            break;
        if (err != ERR_OK) {
            altcp_abort(connection.pcb); // calls on_error, which releases the slot
            return false;
        }
        wrote = true;
        server_->output_sent(connection.id, count, now_);
    }
    if (wrote)
        (void)altcp_output(connection.pcb);
    return true;
}

bool ApiListener::service(Connection& connection) {
    if (!connection.used || connection.pcb == nullptr)
        return true;
    // Input and output alternate: draining output lets the server parse the next pipelined
    // request, which produces more output.
    for (int round = 0; round < 8 && connection.used; ++round) {
        feed(connection);
        if (!flush(connection))
            return false;
        if (server_->pending_output(connection.id).empty() || altcp_sndbuf(connection.pcb) == 0)
            break;
    }
    if (connection.used && server_->should_close(connection.id) &&
        server_->pending_output(connection.id).empty())
        return close(connection);
    return true;
}

bool ApiListener::close(Connection& connection) {
    altcp_pcb* pcb = connection.pcb;
    if (pcb != nullptr) {
        altcp_arg(pcb, nullptr);
        altcp_recv(pcb, nullptr);
        altcp_sent(pcb, nullptr);
        altcp_err(pcb, nullptr);
        altcp_poll(pcb, nullptr, 0);
        // Queued output still goes out before the FIN; a failed close (no memory) aborts.
        connection.pcb = nullptr;
        if (altcp_close(pcb) != ERR_OK) {
            altcp_abort(pcb); // callbacks are cleared: our slot is released below
            release(connection);
            return false;
        }
    }
    release(connection);
    return true;
}

void ApiListener::release(Connection& connection) {
    if (connection.pending != nullptr)
        pbuf_free(connection.pending);
    server_->close_connection(connection.id);
    connection = Connection{};
}

void ApiListener::poll(ServerTime now) {
    now_ = now;
    if (server_ == nullptr)
        return;
    server_->poll(now);
    for (Connection& connection : connections_)
        (void)service(connection);
}

} // namespace halcyon::mgmt::net
