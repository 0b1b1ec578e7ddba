// The management API served over real TCP on localhost with the fake VmHost, for the end-to-end
// test that drives the real halctl binary (halctl_e2e_test.py). It is also a reference for the
// transport the management partition builds over lwIP: the same Server calls, with POSIX
// sockets instead of altcp.
//
//   mgmt_test_server KEY_HEX FILES_DIR [MAX_CONNECTIONS]
// prints "listening on 127.0.0.1:PORT" once ready; uploaded files are written to FILES_DIR when
// complete; exits when stdin closes.
#include "tests/interop/mgmt/fake_vm_host.hpp"

#include "mgmt/api/server.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using namespace halcyon;
using namespace halcyon::mgmt;

namespace {

// The fake host, plus: completed uploads land in a directory the test can compare.
class TestHost final : public testing::FakeVmHost {
public:
    explicit TestHost(std::string directory) : directory_(std::move(directory)) {}

    ErrorOr<FileStatus> write_file(std::string_view path, uint64_t offset, uint64_t total_size,
                                   std::span<const uint8_t> data) override {
        ErrorOr<FileStatus> status = FakeVmHost::write_file(path, offset, total_size, data);
        if (!status.is_error() && status.value().received == status.value().size) {
            std::string name(path);
            for (char& c : name)
                c = c == '/' ? '_' : c;
            const FakeFile& file = files[std::string(path)];
            std::ofstream(directory_ + "/" + name, std::ios::binary)
                .write(reinterpret_cast<const char*>(file.data.data()), std::streamsize(file.size));
        }
        return status;
    }

private:
    std::string directory_;
};

struct Client {
    int fd;
    ConnectionId id;
    std::string unaccepted; // received bytes the server could not take yet
};

ServerTime now() {
    auto monotonic = std::chrono::steady_clock::now().time_since_epoch();
    return ServerTime{
        int64_t(std::time(nullptr)),
        uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(monotonic).count())};
}

void set_nonblocking(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// Sends what the server has produced, feeds held-back input, repeats while progress is made.
// False when the connection is finished.
bool pump(Server& server, Client& client) {
    for (;;) {
        bool progress = false;
        std::span<const uint8_t> output = server.pending_output(client.id);
        if (!output.empty()) {
            ssize_t sent = ::send(client.fd, output.data(), output.size(), MSG_NOSIGNAL);
            if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                return false;
            if (sent > 0) {
                server.output_sent(client.id, size_t(sent), now());
                progress = true;
            }
        }
        if (!client.unaccepted.empty()) {
            size_t taken =
                server.receive(client.id,
                               std::span(reinterpret_cast<const uint8_t*>(client.unaccepted.data()),
                                         client.unaccepted.size()),
                               now());
            client.unaccepted.erase(0, taken);
            progress |= taken > 0;
        }
        if (server.should_close(client.id))
            return false;
        if (!progress)
            return true;
    }
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s KEY_HEX FILES_DIR [MAX_CONNECTIONS]\n", argv[0]);
        return 1;
    }
    auto key = HostKey::from_hex(argv[1]);
    if (key.is_error()) {
        std::fprintf(stderr, "bad key\n");
        return 1;
    }
    ServerConfig config;
    if (argc > 3)
        config.max_connections = uint32_t(std::atoi(argv[3]));
    TestHost host(argv[2]);
    std::vector<uint8_t> memory(Server::memory_needed(config));
    Arena arena(memory);
    Server& server = *Server::create(arena, config, key.value(), host).release_value();

    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(listener, 128) != 0) {
        std::perror("bind/listen");
        return 1;
    }
    socklen_t length = sizeof(address);
    getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
    set_nonblocking(listener);
    std::printf("listening on 127.0.0.1:%d\n", ntohs(address.sin_port));
    std::fflush(stdout);

    std::vector<Client> clients;
    for (;;) {
        std::vector<pollfd> fds = {{STDIN_FILENO, POLLIN, 0}, {listener, POLLIN, 0}};
        for (const Client& client : clients) {
            short events = POLLIN;
            if (!server.pending_output(client.id).empty())
                events |= POLLOUT;
            fds.push_back({client.fd, events, 0});
        }
        ::poll(fds.data(), fds.size(), 100);
        if (fds[0].revents & (POLLIN | POLLHUP)) {
            char byte;
            if (::read(STDIN_FILENO, &byte, 1) <= 0)
                break; // the test is done with us
        }
        size_t polled = clients.size(); // fds[2 + i] belongs to clients[i] for i < polled
        if (fds[1].revents & POLLIN) {
            for (int fd; (fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                auto id = server.open_connection(now());
                if (id.is_error()) {
                    std::span<const uint8_t> busy = server.busy_response(now());
                    (void)!::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL);
                    ::close(fd);
                    continue;
                }
                set_nonblocking(fd);
                clients.push_back({fd, id.value(), {}});
            }
        }
        for (size_t i = 0; i < clients.size(); ++i) {
            Client& client = clients[i];
            bool open = true;
            if (i < polled && (fds[2 + i].revents & (POLLIN | POLLHUP | POLLERR))) {
                char buffer[65536];
                ssize_t got = ::recv(client.fd, buffer, sizeof(buffer), 0);
                if (got > 0)
                    client.unaccepted.append(buffer, size_t(got));
                else if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                    open = false;
            }
            if (open)
                open = pump(server, client);
            if (!open) {
                server.close_connection(client.id);
                ::close(client.fd);
                client.fd = -1;
            }
        }
        std::erase_if(clients, [](const Client& client) { return client.fd < 0; });
        server.poll(now());
        for (Client& client : clients) {
            if (!pump(server, client)) {
                server.close_connection(client.id);
                ::close(client.fd);
                client.fd = -1;
            }
        }
        std::erase_if(clients, [](const Client& client) { return client.fd < 0; });
    }
    return 0;
}
