#include "mgmt/api/server.hpp"

#include <new>
#include <string.h>

namespace halcyon::mgmt {

struct Server::Connection {
    Connection(std::span<uint8_t> input, char* output_buffer, size_t output_size, HttpLimits limits)
        : parser(input, limits), output(output_buffer), output_capacity(output_size) {}

    HttpRequestParser parser;
    char* output;
    size_t output_capacity;
    size_t output_begin = 0;
    size_t output_end = 0;
    uint16_t generation = 0;
    bool open = false;
    bool closing = false;       // close once the output is sent
    bool continue_sent = false; // "100 Continue" already sent for this request
    bool request_started = false;
    uint64_t request_started_ms = 0;
    uint64_t last_activity_ms = 0;

    [[nodiscard]] bool output_empty() const { return output_begin == output_end; }
};

namespace {

constexpr size_t kBusyBufferSize = 512;
constexpr size_t kSlack = 64; // per allocation, for alignment

size_t output_size(const ServerConfig& config) {
    return 1024 /* kHeadReserve */ + config.response_body_size;
}

ConnectionId make_id(uint32_t slot, uint16_t generation) {
    return (uint32_t(generation) << 16) | slot;
}

} // namespace

size_t Server::memory_needed(const ServerConfig& config) {
    size_t per_connection = sizeof(Connection) + config.limits.buffer_size() + output_size(config);
    return sizeof(Server) + kSlack + config.max_connections * (per_connection + 2 * kSlack) +
           config.nonce_cache_entries * sizeof(NonceCache::Entry) + kSlack +
           config.json_max_tokens * sizeof(JsonToken) + kSlack + kBusyBufferSize + kSlack;
}

Server::Server(const ServerConfig& config, const HostKey& key, VmHost& host,
               std::span<NonceCache::Entry> nonces)
    : config_(config), host_(host), verifier_(key, nonces) {
    stats_.max_connections = config.max_connections;
}

ErrorOr<Server*> Server::create(Arena& arena, const ServerConfig& config, const HostKey& key,
                                VmHost& host) {
    if (config.max_connections == 0 || config.max_connections > 0xFFFF ||
        config.json_max_tokens == 0 || config.response_body_size < 1024)
        return Error(ErrorCode::invalid_argument, "invalid management server configuration");
    const Error exhausted(ErrorCode::out_of_memory, "arena too small for the management server");
    void* self = arena.allocate(sizeof(Server), alignof(Server));
    auto* nonces = arena.allocate_array<NonceCache::Entry>(config.nonce_cache_entries);
    auto* tokens = arena.allocate_array<JsonToken>(config.json_max_tokens);
    auto* connections = arena.allocate_array<Connection>(config.max_connections);
    char* busy = arena.allocate_array<char>(kBusyBufferSize);
    if (!self || !nonces || !tokens || !connections || !busy)
        return exhausted;
    for (uint32_t i = 0; i < config.max_connections; ++i) {
        auto* input = arena.allocate_array<uint8_t>(config.limits.buffer_size());
        auto* output = static_cast<char*>(arena.allocate(output_size(config), 16));
        if (!input || !output)
            return exhausted;
        new (&connections[i]) Connection(std::span(input, config.limits.buffer_size()), output,
                                         output_size(config), config.limits);
    }
    auto* server =
        new (self) Server(config, key, host, std::span(nonces, config.nonce_cache_entries));
    server->connections_ = std::span(connections, config.max_connections);
    server->json_tokens_ = std::span(tokens, config.json_max_tokens);
    server->busy_buffer_ = busy;
    return server;
}

Server::Connection* Server::find(ConnectionId id) const {
    uint32_t slot = id & 0xFFFF;
    if (slot >= connections_.size())
        return nullptr;
    Connection& connection = connections_[slot];
    if (!connection.open || connection.generation != uint16_t(id >> 16))
        return nullptr;
    return &connection;
}

ErrorOr<ConnectionId> Server::open_connection(ServerTime now) {
    for (uint32_t slot = 0; slot < connections_.size(); ++slot) {
        Connection& connection = connections_[slot];
        if (connection.open)
            continue;
        connection.parser.reset();
        connection.open = true;
        connection.closing = connection.continue_sent = connection.request_started = false;
        connection.output_begin = connection.output_end = 0;
        connection.last_activity_ms = now.monotonic_ms;
        ++connection.generation;
        ++stats_.connections_accepted;
        ++stats_.open_connections;
        return make_id(slot, connection.generation);
    }
    ++stats_.connections_refused;
    return Error(ErrorCode::busy, "every management API connection is in use");
}

void Server::close_connection(ConnectionId id) {
    Connection* connection = find(id);
    if (!connection)
        return;
    connection->open = false;
    connection->parser.reset();
    --stats_.open_connections;
}

size_t Server::receive(ConnectionId id, std::span<const uint8_t> bytes, ServerTime now) {
    Connection* connection = find(id);
    if (!connection)
        return bytes.size();
    if (connection->closing)
        return bytes.size(); // after a final response, further input is discarded
    connection->last_activity_ms = now.monotonic_ms;
    size_t accepted = 0;
    for (;;) {
        size_t taken = connection->parser.append(bytes.subspan(accepted));
        accepted += taken;
        if (!connection->request_started && connection->parser.buffered() > 0) {
            connection->request_started = true;
            connection->request_started_ms = now.monotonic_ms;
        }
        process(*connection, now);
        if (taken == 0 || accepted == bytes.size() || connection->closing)
            break;
    }
    return connection->closing ? bytes.size() : accepted;
}

std::span<const uint8_t> Server::pending_output(ConnectionId id) const {
    Connection* connection = find(id);
    if (!connection)
        return {};
    return std::span(reinterpret_cast<const uint8_t*>(connection->output) +
                         connection->output_begin,
                     connection->output_end - connection->output_begin);
}

void Server::output_sent(ConnectionId id, size_t count, ServerTime now) {
    Connection* connection = find(id);
    if (!connection)
        return;
    size_t pending = connection->output_end - connection->output_begin;
    connection->output_begin += count < pending ? count : pending;
    connection->last_activity_ms = now.monotonic_ms;
    if (connection->output_empty()) {
        connection->output_begin = connection->output_end = 0;
        process(*connection, now); // answer pipelined requests that were waiting
    }
}

bool Server::should_close(ConnectionId id) const {
    Connection* connection = find(id);
    return connection == nullptr || (connection->closing && connection->output_empty());
}

void Server::poll(ServerTime now) {
    for (Connection& connection : connections_) {
        if (!connection.open || connection.closing || !connection.output_empty())
            continue;
        if (connection.request_started) {
            if (now.monotonic_ms - connection.request_started_ms >= config_.request_timeout_ms) {
                ++stats_.timeouts;
                emit_error(connection, 408, "request_timeout",
                           "the request did not arrive completely in time", now);
                connection.closing = true;
            }
        } else if (now.monotonic_ms - connection.last_activity_ms >= config_.idle_timeout_ms) {
            connection.closing = true; // idle keep-alive connection: close quietly
        }
    }
}

void Server::process(Connection& connection, ServerTime now) {
    while (!connection.closing && connection.output_empty()) {
        HttpRequestParser::Status status = connection.parser.parse();
        if (status == HttpRequestParser::Status::need_more) {
            const HttpRequest& request = connection.parser.request();
            if (connection.parser.awaiting_body() && request.expects_continue &&
                !connection.continue_sent) {
                static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
                memcpy(connection.output, kContinue, sizeof(kContinue) - 1);
                connection.output_end = sizeof(kContinue) - 1;
                connection.continue_sent = true;
            }
            return;
        }
        if (status == HttpRequestParser::Status::error) {
            const HttpError& error = connection.parser.error();
            ++stats_.bad_requests;
            // The stream cannot be framed any more: answer and close.
            emit_error(connection, error.status, error.code, error.message, now);
            connection.closing = true;
            return;
        }
        ++stats_.requests;
        answer(connection, connection.parser.request(), now);
        if (!connection.parser.request().keep_alive)
            connection.closing = true;
        connection.parser.consume();
        connection.continue_sent = false;
        connection.request_started = connection.parser.buffered() > 0;
        connection.request_started_ms = now.monotonic_ms;
    }
}

void Server::answer(Connection& connection, const HttpRequest& request, ServerTime now) {
    HttpResponse response(
        std::span(connection.output + kHeadReserve, connection.output_capacity - kHeadReserve));
    AuthResult auth = verifier_.verify(request, now.unix_seconds);
    if (auth != AuthResult::ok) {
        ++stats_.auth_failures[static_cast<uint32_t>(auth)];
        response.set_error(401, "unauthorized", auth_result_message(auth));
        response.add_header("WWW-Authenticate", kAuthScheme);
    } else {
        ApiContext context{host_, json_tokens_, stats_, vhd_host_};
        handle_api_request(context, request, response);
    }
    if (response.body_overflowed())
        response.set_error(500, "internal_error", "response larger than the server's buffer");
    emit(connection, response, request.keep_alive, now);
}

void Server::emit(Connection& connection, const HttpResponse& response, bool keep_alive,
                  ServerTime now) {
    char head[kHeadReserve];
    size_t head_length = write_response_head(response, keep_alive, now.unix_seconds, head);
    // The body is already in place after the reserve; the head goes right in front of it.
    memcpy(connection.output + kHeadReserve - head_length, head, head_length);
    connection.output_begin = kHeadReserve - head_length;
    connection.output_end = kHeadReserve + response.body().size();
    ++stats_.responses[response.status() / 100 % 6];
}

void Server::emit_error(Connection& connection, uint16_t status, const char* code,
                        const char* message, ServerTime now) {
    HttpResponse response(
        std::span(connection.output + kHeadReserve, connection.output_capacity - kHeadReserve));
    response.set_error(status, code, message);
    emit(connection, response, false, now);
}

std::span<const uint8_t> Server::busy_response(ServerTime now) {
    char body[128];
    HttpResponse response(body);
    response.set_error(503, "service_unavailable", "too many management API connections");
    response.add_header("Retry-After", "1");
    size_t head = write_response_head(response, false, now.unix_seconds,
                                      std::span(busy_buffer_, kBusyBufferSize));
    size_t length = response.body().size();
    if (head == 0 || head + length > kBusyBufferSize)
        return {};
    memcpy(busy_buffer_ + head, response.body().data(), length);
    return std::span(reinterpret_cast<const uint8_t*>(busy_buffer_), head + length);
}

} // namespace halcyon::mgmt
