// halctl's HTTP/1.1 client over a POSIX TCP socket: signs every request with the host key
// (mgmt/api/auth.hpp), keeps the connection alive between requests (Connect-VM polls over one
// connection) and reconnects when the server has closed an idle one.
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

class HttpClient {
public:
    explicit HttpClient(Settings settings) : settings_(std::move(settings)) {}
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // Nothing (and `error` set) when the server cannot be reached or answers garbage.
    // `extra_headers` are complete "Name: value" lines without CRLF.
    [[nodiscard]] std::optional<HttpResult>
    request(const std::string& method, const std::string& target, const std::string& body,
            const std::string& content_type, std::string& error,
            const std::vector<std::string>& extra_headers = {});

private:
    bool connect(std::string& error);
    void disconnect();
    bool send_all(const std::string& data, std::string& error);
    // Reads one response; `received_any` tells a dropped idle connection from a broken reply.
    std::optional<HttpResult> read_response(bool& received_any, std::string& error);
    bool fill(std::string& error); // reads more bytes into buffer_; false at EOF or error

    Settings settings_;
    int socket_ = -1;
    std::string buffer_;
};

// 32 hex digits from the system's random source.
[[nodiscard]] std::string random_nonce();

} // namespace halcyon::halctl
