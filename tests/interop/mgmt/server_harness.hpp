// Test support shared by the mgmt unit tests and the fuzzer: a Server over a FakeVmHost in a
// heap-backed arena, signed request construction, and a small parser for the responses the
// server writes (tests only, std containers).
#pragma once

#include "mgmt/api/auth.hpp"
#include "mgmt/api/server.hpp"
#include "tests/interop/mgmt/fake_vm_host.hpp"

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace halcyon::mgmt::testing {

inline HostKey test_key(uint8_t seed = 1) {
    HostKey key;
    for (size_t i = 0; i < key.bytes.size(); ++i)
        key.bytes[i] = uint8_t(seed * 31 + i);
    return key;
}

inline constexpr int64_t kTestNow = 1'700'000'000;

struct RequestOptions {
    int64_t timestamp = kTestNow;
    std::string nonce; // empty: a fresh one
    std::string content_type = "application/json";
    std::vector<std::string> extra_headers; // "Name: value"
    bool sign = true;
    bool close = false;
};

inline std::string fresh_nonce() {
    static uint64_t counter = 0;
    char text[33];
    std::snprintf(text, sizeof(text), "%016llx%016llx", 0x5eedULL,
                  static_cast<unsigned long long>(++counter));
    return text;
}

// A complete HTTP/1.1 request, signed with `key` unless options.sign is false.
inline std::string make_request(const HostKey& key, std::string_view method,
                                std::string_view target, std::string_view body = {},
                                RequestOptions options = {}) {
    std::string request = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\n";
    request += "Host: halcyon\r\n";
    if (options.sign) {
        std::string nonce = options.nonce.empty() ? fresh_nonce() : options.nonce;
        char header[kAuthorizationMaxLength];
        std::string_view value = sign_request(
            key, method, target, options.timestamp, nonce,
            std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()), header);
        request += "Authorization: " + std::string(value) + "\r\n";
    }
    if (!body.empty())
        request += "Content-Type: " + options.content_type + "\r\n";
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    for (const std::string& header : options.extra_headers)
        request += header + "\r\n";
    if (options.close)
        request += "Connection: close\r\n";
    request += "\r\n";
    request += body;
    return request;
}

struct ParsedResponse {
    int status = 0;
    std::map<std::string, std::string> headers; // lowercase names
    std::string body;
};

// Splits `stream` into the responses it holds (Content-Length framing); 100 Continue included.
inline std::vector<ParsedResponse> parse_responses(const std::string& stream) {
    std::vector<ParsedResponse> responses;
    size_t position = 0;
    while (position < stream.size()) {
        size_t head_end = stream.find("\r\n\r\n", position);
        if (head_end == std::string::npos)
            break;
        ParsedResponse response;
        std::string head = stream.substr(position, head_end - position);
        response.status = std::atoi(head.c_str() + 9);
        size_t line = head.find("\r\n");
        while (line != std::string::npos) {
            size_t next = head.find("\r\n", line + 2);
            std::string field = head.substr(line + 2, next == std::string::npos ? std::string::npos
                                                                                : next - line - 2);
            size_t colon = field.find(':');
            std::string name = field.substr(0, colon);
            for (char& c : name)
                c = char(std::tolower(uint8_t(c)));
            response.headers[name] = field.substr(colon + 2);
            line = next;
        }
        size_t length = std::stoul(
            response.headers.count("content-length") ? response.headers["content-length"] : "0");
        response.body = stream.substr(head_end + 4, length);
        position = head_end + 4 + length;
        responses.push_back(response);
    }
    return responses;
}

class ServerHarness {
public:
    explicit ServerHarness(ServerConfig config = small_config(), HostKey key = test_key())
        : key_(key), memory_(Server::memory_needed(config)) {
        Arena arena(memory_);
        server_ = Server::create(arena, config, key_, host).release_value();
    }

    // Fewer connections and a smaller nonce cache than the partition's defaults: quick to set
    // up in every test, same code paths.
    static ServerConfig small_config() {
        ServerConfig config;
        config.max_connections = 4;
        config.nonce_cache_entries = 256;
        return config;
    }

    ServerTime now() const { return ServerTime{unix_now, monotonic_ms}; }

    ConnectionId open() { return server_->open_connection(now()).release_value(); }

    // Feeds `bytes` (all of them, retrying as the server drains) and returns everything the
    // server sent meanwhile.
    std::string exchange(ConnectionId id, std::string_view bytes, size_t piece = SIZE_MAX) {
        std::string output;
        size_t offset = 0;
        int stalls = 0;
        while (offset < bytes.size() && stalls < 4) {
            size_t length = std::min(piece, bytes.size() - offset);
            size_t taken = server_->receive(
                id, std::span(reinterpret_cast<const uint8_t*>(bytes.data()) + offset, length),
                now());
            offset += taken;
            stalls = taken == 0 ? stalls + 1 : 0;
            output += drain(id);
        }
        output += drain(id);
        return output;
    }

    std::string drain(ConnectionId id) {
        std::string output;
        for (;;) {
            std::span<const uint8_t> pending = server_->pending_output(id);
            if (pending.empty())
                return output;
            output.append(reinterpret_cast<const char*>(pending.data()), pending.size());
            server_->output_sent(id, pending.size(), now());
        }
    }

    // One request on a fresh connection; the single response.
    ParsedResponse call(std::string_view method, std::string_view target,
                        std::string_view body = {}, RequestOptions options = {}) {
        ConnectionId id = open();
        std::vector<ParsedResponse> responses =
            parse_responses(exchange(id, make_request(key_, method, target, body, options)));
        server_->close_connection(id);
        return responses.empty() ? ParsedResponse{} : responses.back();
    }

    Server& server() { return *server_; }
    const HostKey& key() const { return key_; }

    FakeVmHost host;
    int64_t unix_now = kTestNow;
    uint64_t monotonic_ms = 1000;

private:
    HostKey key_;
    std::vector<uint8_t> memory_;
    Server* server_ = nullptr;
};

} // namespace halcyon::mgmt::testing
