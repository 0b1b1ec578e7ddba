// The management API's TCP transport: lwIP altcp connections (plain TCP today; a TLS altcp
// layer slots in at listen time without touching this loop) feeding mgmt::Server.
//
// Flow control follows the server: received bytes are acknowledged to TCP (altcp_recved) only
// when Server::receive() took them; the rest stays queued here (pbuf chain) and is offered
// again when the server has made room (after its output drained). Output is copied into lwIP's
// send buffer as far as it has room and reported to the server with output_sent().
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/api/server.hpp"

#include <stdint.h>

struct altcp_pcb;
struct pbuf;
struct tcp_pcb;

namespace halcyon::mgmt::net {

// 64 administrators' scripts at once (issue 6's load test) get a slot each; a slot costs the
// server ~140 KiB (a request buffer at HttpLimits plus a response buffer: Server::memory_needed)
// and lwIP one TCP PCB (lwipopts.h keeps MEMP_NUM_TCP_PCB above this).
inline constexpr uint32_t kMaxApiConnections = 64;

class ApiListener {
public:
    [[nodiscard]] ErrorOr<void> start(uint16_t port, Server& server);
    // Server timeouts, then flush/close every connection. `now` also dates the callbacks
    // lwIP makes until the next call.
    void poll(ServerTime now);
    void set_time(ServerTime now) { now_ = now; }

private:
    struct Connection {
        altcp_pcb* pcb = nullptr;
        ConnectionId id = 0;
        pbuf* pending = nullptr; // received, not yet taken by the server
        ApiListener* owner = nullptr;
        bool used = false;
    };

    static int8_t on_listener_accept(void* arg, tcp_pcb* pcb, int8_t err);
    static int8_t on_accept(void* arg, altcp_pcb* pcb, int8_t err);
    static int8_t on_receive(void* arg, altcp_pcb* pcb, pbuf* p, int8_t err);
    static int8_t on_sent(void* arg, altcp_pcb* pcb, uint16_t length);
    static int8_t on_poll(void* arg, altcp_pcb* pcb);
    static void on_error(void* arg, int8_t err);

    // false when the connection was aborted (lwIP callbacks must then return ERR_ABRT).
    bool service(Connection& connection);
    void feed(Connection& connection);
    bool flush(Connection& connection);
    bool close(Connection& connection);
    void release(Connection& connection);

    Server* server_ = nullptr;
    tcp_pcb* listener_ = nullptr;
    ServerTime now_;
    Connection connections_[kMaxApiConnections];
};

} // namespace halcyon::mgmt::net
