#include "mgmt/halctl/http_client.hpp"

#include "mgmt/api/hex.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <random>
#include <sys/random.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace halcyon::halctl {
namespace {

std::string lowercase(std::string text) {
    for (char& c : text)
        c = char(std::tolower(uint8_t(c)));
    return text;
}

} // namespace

std::string random_nonce() {
    uint8_t bytes[16];
    size_t filled = 0;
    while (filled < sizeof(bytes)) {
        ssize_t got = getrandom(bytes + filled, sizeof(bytes) - filled, 0);
        if (got > 0)
            filled += size_t(got);
        else if (errno != EINTR)
            std::abort(); // no randomness: never sign with a predictable nonce
    }
    char text[32];
    return std::string(mgmt::hex_encode(bytes, text));
}

HttpClient::~HttpClient() {
    disconnect();
}

void HttpClient::disconnect() {
    if (socket_ >= 0)
        ::close(socket_);
    socket_ = -1;
    buffer_.clear();
}

bool HttpClient::connect(std::string& error, bool& refused) {
    refused = false;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* addresses = nullptr;
    std::string port = std::to_string(settings_.endpoint.port);
    int status = getaddrinfo(settings_.endpoint.host.c_str(), port.c_str(), &hints, &addresses);
    if (status != 0) {
        error = "cannot resolve " + settings_.endpoint.host + ": " + gai_strerror(status);
        return false;
    }
    error = "cannot connect to " + settings_.endpoint.host + ":" + port;
    for (addrinfo* address = addresses; address; address = address->ai_next) {
        int fd =
            ::socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC, address->ai_protocol);
        if (fd < 0)
            continue;
        // Connect without blocking so the timeout applies to unreachable hosts too.
        int flags = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        int result = ::connect(fd, address->ai_addr, address->ai_addrlen);
        if (result != 0 && errno == EINPROGRESS) {
            pollfd waiting{fd, POLLOUT, 0};
            if (poll(&waiting, 1, settings_.timeout_seconds * 1000) == 1) {
                int socket_error = 0;
                socklen_t length = sizeof(socket_error);
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &socket_error, &length);
                result = socket_error == 0 ? 0 : -1;
                errno = socket_error;
            } else {
                errno = ETIMEDOUT;
            }
        }
        if (result == 0) {
            fcntl(fd, F_SETFL, flags);
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            timeval timeout{settings_.timeout_seconds, 0};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
            socket_ = fd;
            freeaddrinfo(addresses);
            error.clear();
            return true;
        }
        if (errno == ECONNREFUSED)
            refused = true;
        error += std::string(": ") + std::strerror(errno);
        ::close(fd);
    }
    freeaddrinfo(addresses);
    return false;
}

bool HttpClient::send_all(const std::string& data, std::string& error) {
    size_t sent = 0;
    while (sent < data.size()) {
        ssize_t written = ::send(socket_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0) {
            error = std::string("sending to the server failed: ") + std::strerror(errno);
            return false;
        }
        sent += size_t(written);
    }
    return true;
}

bool HttpClient::fill(std::string& error) {
    char chunk[16384];
    for (;;) {
        ssize_t got = ::recv(socket_, chunk, sizeof(chunk), 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            error = errno == EAGAIN || errno == EWOULDBLOCK
                        ? "the server did not answer in time"
                        : std::string("reading from the server failed: ") + std::strerror(errno);
            return false;
        }
        if (got == 0) {
            error = "the server closed the connection";
            return false;
        }
        buffer_.append(chunk, size_t(got));
        return true;
    }
}

std::optional<HttpResult> HttpClient::read_response(bool& received_any, std::string& error) {
    for (;;) {
        size_t head_end;
        while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
            if (!fill(error))
                return std::nullopt;
            received_any = true;
        }
        received_any = true;
        HttpResult result;
        std::string head = buffer_.substr(0, head_end);
        if (head.compare(0, 5, "HTTP/") != 0 || head.size() < 12) {
            error = "the server's answer is not HTTP";
            return std::nullopt;
        }
        result.status = std::atoi(head.c_str() + 9);
        size_t line = head.find("\r\n");
        while (line != std::string::npos) {
            size_t next = head.find("\r\n", line + 2);
            std::string field = head.substr(line + 2, next == std::string::npos ? std::string::npos
                                                                                : next - line - 2);
            size_t colon = field.find(':');
            if (colon != std::string::npos) {
                size_t value = field.find_first_not_of(' ', colon + 1);
                result.headers[lowercase(field.substr(0, colon))] =
                    value == std::string::npos ? "" : field.substr(value);
            }
            line = next;
        }
        buffer_.erase(0, head_end + 4);
        if (result.status == 100)
            continue; // interim response; the final one follows
        size_t length = std::strtoull(result.header("content-length").c_str(), nullptr, 10);
        while (buffer_.size() < length) {
            if (!fill(error))
                return std::nullopt;
        }
        result.body = buffer_.substr(0, length);
        buffer_.erase(0, length);
        if (lowercase(result.header("connection")) == "close")
            disconnect();
        return result;
    }
}

std::optional<HttpResult> HttpClient::attempt(const std::string& method, const std::string& target,
                                              const std::string& body,
                                              const std::string& content_type,
                                              const std::vector<std::string>& extra_headers,
                                              Failure& failure, std::string& error) {
    failure = Failure::other;
    for (int reconnect = 0; reconnect < 2; ++reconnect) {
        bool reused = socket_ >= 0;
        bool refused = false;
        if (!reused && !connect(error, refused)) {
            if (refused)
                failure = Failure::refused;
            return std::nullopt;
        }
        // Signed afresh on every attempt: a nonce is never sent twice.
        char authorization[mgmt::kAuthorizationMaxLength];
        std::string_view signature = mgmt::sign_request(
            settings_.key, method, target, int64_t(std::time(nullptr)), random_nonce(),
            std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()), authorization);
        std::string request = method + " " + target + " HTTP/1.1\r\n";
        const std::string& host = settings_.endpoint.host;
        request +=
            "Host: " + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + "\r\n";
        request += "Authorization: " + std::string(signature) + "\r\n";
        request += "User-Agent: halctl\r\n";
        if (!body.empty())
            request += "Content-Type: " + content_type + "\r\n";
        for (const std::string& header : extra_headers)
            request += header + "\r\n";
        request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
        request += body;
        bool received_any = false;
        if (send_all(request, error)) {
            std::optional<HttpResult> result = read_response(received_any, error);
            if (result) {
                failure = Failure::none;
                return result;
            }
        }
        disconnect();
        // A kept-alive connection the server closed while idle: try once on a new one.
        if (!reused || received_any) {
            if (!received_any)
                failure = Failure::dropped;
            return std::nullopt;
        }
    }
    return std::nullopt;
}

int retry_delay_ms(const RetryPolicy& policy, int retry, double random) {
    int64_t delay = policy.first_delay_ms;
    for (int i = 0; i < retry && delay < policy.max_delay_ms; ++i)
        delay *= 2;
    if (delay > policy.max_delay_ms)
        delay = policy.max_delay_ms;
    const double half = double(delay) / 2;
    return int(half + half * random);
}

std::optional<HttpResult> HttpClient::request(const std::string& method, const std::string& target,
                                              const std::string& body,
                                              const std::string& content_type, std::string& error,
                                              const std::vector<std::string>& extra_headers) {
    std::minstd_rand jitter(uint32_t(std::random_device{}()));
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    retries_ = 0;
    for (;;) {
        Failure failure = Failure::other;
        std::optional<HttpResult> result =
            attempt(method, target, body, content_type, extra_headers, failure, error);
        // Only answers the server gives before it looks at a request are retried (see the
        // header); a 503 is the server's "every connection slot is taken".
        bool retry = result ? result->status == 503
                            : failure == Failure::refused ||
                                  (failure == Failure::dropped && method == "GET");
        if (!retry || retries_ + 1 >= retry_.attempts)
            return result;
        disconnect(); // the server closes after its 503 anyway
        std::this_thread::sleep_for(
            std::chrono::milliseconds(retry_delay_ms(retry_, retries_, unit(jitter))));
        ++retries_;
    }
}

} // namespace halcyon::halctl
