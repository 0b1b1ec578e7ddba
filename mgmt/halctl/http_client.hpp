// halctl's HTTP/1.1 client over a POSIX TCP socket: signs every request with the host key
// (mgmt/api/auth.hpp), keeps the connection alive between requests (Connect-VM polls over one
// connection) and reconnects when the server has closed an idle one.
//
// A server that is momentarily full (every connection slot taken: its 503 "too many management
// API connections", or a refused TCP connection) is not an error an administrator's script
// should see: such a request is tried again after a randomized, growing pause (RetryPolicy),
// since in both cases the server never saw it. A GET whose fresh connection closes before a
// byte of the answer is tried again too (it changes nothing); other methods are not, because the
// server may have acted on them.
#pragma once

#include "mgmt/halctl/settings.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace halcyon::halctl {

struct HttpResult {
    int status = 0;
    std::map<std::string, std::string> headers; // lowercase names
    std::string body;

    [[nodiscard]] std::string header(const std::string& name) const {
        auto found = headers.find(name);
        return found == headers.end() ? "" : found->second;
    }
};

struct RetryPolicy {
    int attempts = 8;        // in all, the first one included
    int first_delay_ms = 50; // doubled after every retry...
    int max_delay_ms = 2000; // ...up to this; each pause is drawn from [delay/2, delay]
};

// The pause before retry number `retry` (0 = the first retry) when `random` is uniform in
// [0, 1): exposed for the unit test. Full-width jitter keeps 64 clients refused together from
// coming back together.
[[nodiscard]] int retry_delay_ms(const RetryPolicy& policy, int retry, double random);

class HttpClient {
public:
    explicit HttpClient(Settings settings, RetryPolicy retry = {})
        : settings_(std::move(settings)), retry_(retry) {}
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // Nothing (and `error` set) when the server cannot be reached or answers garbage.
    // `extra_headers` are complete "Name: value" lines without CRLF.
    [[nodiscard]] std::optional<HttpResult>
    request(const std::string& method, const std::string& target, const std::string& body,
            const std::string& content_type, std::string& error,
            const std::vector<std::string>& extra_headers = {});

    // Retries the last request() took (0 when the first attempt was answered).
    [[nodiscard]] int retries() const { return retries_; }

private:
    enum class Failure { none, refused, dropped, other };

    // One attempt on the kept-alive connection (reconnecting once if the server closed it).
    std::optional<HttpResult> attempt(const std::string& method, const std::string& target,
                                      const std::string& body, const std::string& content_type,
                                      const std::vector<std::string>& extra_headers,
                                      Failure& failure, std::string& error);
    bool connect(std::string& error, bool& refused);
    void disconnect();
    bool send_all(const std::string& data, std::string& error);
    // Reads one response; `received_any` tells a dropped idle connection from a broken reply.
    std::optional<HttpResult> read_response(bool& received_any, std::string& error);
    bool fill(std::string& error); // reads more bytes into buffer_; false at EOF or error

    Settings settings_;
    RetryPolicy retry_;
    int retries_ = 0;
    int socket_ = -1;
    std::string buffer_;
};

// 32 hex digits from the system's random source.
[[nodiscard]] std::string random_nonce();

} // namespace halcyon::halctl
