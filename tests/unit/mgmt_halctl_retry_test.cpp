// halctl's bounded retry (mgmt/halctl/http_client.hpp): a scripted HTTP server on localhost
// answers each connection as the test says (503 busy, 200, or a close without an answer), and
// the test checks which requests the client tries again, how often, and how long it waits.
#include "mgmt/halctl/http_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace halcyon::halctl {
namespace {

enum class Reply { busy, ok, drop };

// Answers connection i with script[i] (the last entry for every later one) until stopped.
class ScriptedServer {
public:
    explicit ScriptedServer(std::vector<Reply> script) : script_(std::move(script)) {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof(address);
        EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), length), 0);
        EXPECT_EQ(::listen(listener_, 16), 0);
        EXPECT_EQ(::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length), 0);
        port_ = ntohs(address.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~ScriptedServer() {
        ::shutdown(listener_, SHUT_RDWR); // wakes accept()
        thread_.join();
        ::close(listener_);
    }
    [[nodiscard]] int port() const { return port_; }
    [[nodiscard]] int connections() const { return connections_.load(); }

private:
    void serve() {
        for (;;) {
            int fd = ::accept(listener_, nullptr, nullptr);
            if (fd < 0)
                return;
            const size_t index = size_t(connections_.fetch_add(1));
            const Reply reply = script_[index < script_.size() ? index : script_.size() - 1];
            if (reply == Reply::busy) {
                // As the API listener does: the answer at accept, before reading anything.
                send(fd, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                         "Connection: close\r\nContent-Length: 4\r\n\r\nbusy");
                ::close(fd);
                continue;
            }
            read_request_head(fd);
            if (reply == Reply::ok)
                send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
            ::close(fd);
        }
    }
    static void read_request_head(int fd) {
        std::string head;
        char chunk[512];
        while (head.find("\r\n\r\n") == std::string::npos) {
            ssize_t got = ::recv(fd, chunk, sizeof(chunk), 0);
            if (got <= 0)
                return;
            head.append(chunk, size_t(got));
        }
    }
    static void send(int fd, const std::string& text) {
        (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
    }

    std::vector<Reply> script_;
    int listener_ = -1;
    int port_ = 0;
    std::atomic<int> connections_{0};
    std::thread thread_;
};

Settings local_settings(int port) {
    Settings settings;
    settings.endpoint = Endpoint{"127.0.0.1", port};
    settings.key.bytes.fill(0x5A);
    settings.timeout_seconds = 5;
    return settings;
}

constexpr RetryPolicy kFast{4, 5, 20}; // 4 attempts, pauses of 2-5, 5-10, 10-20 ms

TEST(HalctlRetry, DelaysGrowAreJitteredAndCapped) {
    const RetryPolicy policy{8, 50, 2000};
    EXPECT_EQ(retry_delay_ms(policy, 0, 0.0), 25);
    EXPECT_EQ(retry_delay_ms(policy, 0, 0.999), 49);
    EXPECT_EQ(retry_delay_ms(policy, 1, 0.0), 50);
    EXPECT_EQ(retry_delay_ms(policy, 3, 0.5), 300);
    EXPECT_EQ(retry_delay_ms(policy, 6, 0.999), 1999);  // 3200 capped at 2000
    EXPECT_EQ(retry_delay_ms(policy, 1000, 0.0), 1000); // no overflow however many retries
}

TEST(HalctlRetry, BusyServerIsTriedAgainUntilItAnswers) {
    ScriptedServer server({Reply::busy, Reply::busy, Reply::ok});
    HttpClient client(local_settings(server.port()), kFast);
    std::string error;
    auto result = client.request("GET", "/api/v1/vms", "", "", error);
    ASSERT_TRUE(result) << error;
    EXPECT_EQ(result->status, 200);
    EXPECT_EQ(result->body, "{}");
    EXPECT_EQ(client.retries(), 2);
    EXPECT_EQ(server.connections(), 3);
}

TEST(HalctlRetry, PostIsRetriedWhenBusyToo) {
    // The 503 comes before the server reads the request: nothing was done, any method may retry.
    ScriptedServer server({Reply::busy, Reply::ok});
    HttpClient client(local_settings(server.port()), kFast);
    std::string error;
    auto result = client.request("POST", "/api/v1/vms/a/start", "", "", error);
    ASSERT_TRUE(result) << error;
    EXPECT_EQ(result->status, 200);
    EXPECT_EQ(server.connections(), 2);
}

TEST(HalctlRetry, RetriesAreBounded) {
    ScriptedServer server({Reply::busy});
    HttpClient client(local_settings(server.port()), kFast);
    std::string error;
    const auto started = std::chrono::steady_clock::now();
    auto result = client.request("GET", "/api/v1/host", "", "", error);
    const auto waited = std::chrono::steady_clock::now() - started;
    ASSERT_TRUE(result) << error;
    EXPECT_EQ(result->status, 503); // the last answer is reported as it is
    EXPECT_EQ(client.retries(), 3);
    EXPECT_EQ(server.connections(), 4);
    EXPECT_GE(waited, std::chrono::milliseconds(2 + 5 + 10));
}

TEST(HalctlRetry, DroppedGetIsRetriedDroppedPostIsNot) {
    {
        ScriptedServer server({Reply::drop, Reply::ok});
        HttpClient client(local_settings(server.port()), kFast);
        std::string error;
        auto result = client.request("GET", "/api/v1/vms", "", "", error);
        ASSERT_TRUE(result) << error;
        EXPECT_EQ(result->status, 200);
        EXPECT_EQ(server.connections(), 2);
    }
    {
        // The server may have acted on it: the caller learns it failed instead.
        ScriptedServer server({Reply::drop, Reply::ok});
        HttpClient client(local_settings(server.port()), kFast);
        std::string error;
        auto result = client.request("POST", "/api/v1/vms/a/stop", "", "", error);
        EXPECT_FALSE(result);
        EXPECT_FALSE(error.empty());
        EXPECT_EQ(client.retries(), 0);
        EXPECT_EQ(server.connections(), 1);
    }
}

TEST(HalctlRetry, RefusedConnectionIsRetriedThenReported) {
    // A port nobody listens on (bound, never listening: connect() is refused at once).
    int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&address), length), 0);
    ASSERT_EQ(::getsockname(holder, reinterpret_cast<sockaddr*>(&address), &length), 0);
    HttpClient client(local_settings(ntohs(address.sin_port)), kFast);
    std::string error;
    auto result = client.request("GET", "/api/v1/host", "", "", error);
    ::close(holder);
    EXPECT_FALSE(result);
    EXPECT_NE(error.find("Connection refused"), std::string::npos) << error;
    EXPECT_EQ(client.retries(), 3);
}

} // namespace
} // namespace halcyon::halctl
