// The management API server, without sockets: the transport (lwIP's altcp in the management
// partition, so TCP now and TLS later without changes here; POSIX sockets in the host tests)
// opens connections, feeds the bytes it receives, sends the bytes the server produces, and
// closes connections when told. Each connection has its own parser and output buffer in a fixed
// array, so many clients are served at once; requests on one connection are answered in order
// (pipelining), one response at a time.
//
// The transport's loop, per connection:
//   id = open_connection(now)            on accept (on error: send busy_response(now), close)
//   n = receive(id, bytes, now)          on data; keep bytes[n..] and offer them again later
//   out = pending_output(id)             send what is there...
//   output_sent(id, sent, now)           ...and report how much went out (may produce more)
//   if should_close(id): close           after the last byte of a final response
//   close_connection(id)                 when the peer goes away or the connection is closed
// and poll(now) every few hundred milliseconds for timeouts (then check every connection's
// pending_output() and should_close() again). All calls come from one thread.
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/api/api.hpp"
#include "mgmt/api/arena.hpp"
#include "mgmt/api/auth.hpp"
#include "mgmt/api/http_request.hpp"
#include "mgmt/api/request_verifier.hpp"
#include "mgmt/api/vm_host.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::mgmt {

struct ServerTime {
    int64_t unix_seconds = 0;  // wall clock, for request timestamps and the Date header
    uint64_t monotonic_ms = 0; // for timeouts
};

struct ServerConfig {
    HttpLimits limits;
    uint32_t max_connections = 64;
    uint32_t response_body_size = 64 * 1024; // largest response body
    uint32_t nonce_cache_entries = 4096;
    uint32_t json_max_tokens = 1024;
    uint32_t request_timeout_ms = 10'000; // first byte to complete request, else 408
    uint32_t idle_timeout_ms = 120'000;   // keep-alive connection without a request, then closed
};

using ConnectionId = uint32_t;

class Server {
public:
    // Bytes of arena a server with this configuration takes (alignment included).
    [[nodiscard]] static size_t memory_needed(const ServerConfig& config);
    [[nodiscard]] static ErrorOr<Server*> create(Arena& arena, const ServerConfig& config,
                                                 const HostKey& key, VmHost& host);

    // busy when every connection slot is taken.
    [[nodiscard]] ErrorOr<ConnectionId> open_connection(ServerTime now);
    [[nodiscard]] size_t receive(ConnectionId id, std::span<const uint8_t> bytes, ServerTime now);
    [[nodiscard]] std::span<const uint8_t> pending_output(ConnectionId id) const;
    void output_sent(ConnectionId id, size_t count, ServerTime now);
    [[nodiscard]] bool should_close(ConnectionId id) const;
    void close_connection(ConnectionId id);
    void poll(ServerTime now);

    // A complete "503, too many connections" response for a connection that could not be
    // opened; valid until the next call.
    [[nodiscard]] std::span<const uint8_t> busy_response(ServerTime now);

    // The storage and integration-service verbs (vhd_host.hpp); without one they answer 501.
    void set_vhd_host(VhdHost* host) { vhd_host_ = host; }

    [[nodiscard]] const ServerStats& stats() const { return stats_; }
    [[nodiscard]] const ServerConfig& config() const { return config_; }

private:
    struct Connection;
    static constexpr size_t kHeadReserve = 1024;

    Server(const ServerConfig& config, const HostKey& key, VmHost& host,
           std::span<NonceCache::Entry> nonces);
    Connection* find(ConnectionId id) const;
    void process(Connection& connection, ServerTime now);
    void answer(Connection& connection, const HttpRequest& request, ServerTime now);
    void emit(Connection& connection, const HttpResponse& response, bool keep_alive,
              ServerTime now);
    void emit_error(Connection& connection, uint16_t status, const char* code, const char* message,
                    ServerTime now);

    ServerConfig config_;
    VmHost& host_;
    VhdHost* vhd_host_ = nullptr;
    RequestVerifier verifier_;
    ServerStats stats_;
    std::span<Connection> connections_;
    std::span<JsonToken> json_tokens_;
    char* busy_buffer_ = nullptr;
};

} // namespace halcyon::mgmt
