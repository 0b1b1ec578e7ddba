// Connect-VM: the VM's serial console over the management API, by polling (the API serves the
// console as GET ?since=N / POST input; see docs/management-api.md). Interactive on a terminal
// (raw mode, detach with Ctrl-]); with piped input it sends the input, prints what the VM says
// until it has been quiet for a second, and exits, which is what scripts and tests want.
#include "mgmt/halctl/commands.hpp"

#include <chrono>
#include <cstdint>
#include <iostream>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

namespace halcyon::halctl {
namespace {

constexpr char kDetach = 0x1D; // Ctrl-]
constexpr uint64_t kHistoryBytes = 2048;
constexpr int kPollMilliseconds = 100;
constexpr auto kQuietPeriod = std::chrono::milliseconds(1000);

// Puts the terminal in raw mode for as long as it lives.
class RawTerminal {
public:
    RawTerminal() {
        if (tcgetattr(STDIN_FILENO, &saved_) != 0)
            return;
        termios raw = saved_;
        cfmakeraw(&raw);
        active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    ~RawTerminal() {
        if (active_)
            tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

private:
    termios saved_{};
    bool active_ = false;
};

bool write_all(int fd, const std::string& data) {
    size_t written = 0;
    while (written < data.size()) {
        ssize_t n = ::write(fd, data.data() + written, data.size() - written);
        if (n <= 0)
            return false;
        written += size_t(n);
    }
    return true;
}

} // namespace

int run_console(const std::string& name, HttpClient& client, std::ostream& err) {
    std::string target = "/v1/vms/" + percent_encode(name, false) + "/console";
    std::string error;
    auto fail = [&](const std::optional<HttpResult>& result) {
        if (!result) {
            err << "halctl: Connect-VM: " << error << "\n";
            return int(kExitConnection);
        }
        err << "halctl: Connect-VM: " << result->body << "\n";
        return exit_code_for_status(result->status);
    };
    // Where the console is now; start a little before it, like a screen that shows its last
    // lines when you look at it.
    auto end = client.request("GET", target + "?since=18446744073709551615", "", "", error);
    if (!end || end->status != 200)
        return fail(end);
    uint64_t since = std::strtoull(end->header("halcyon-console-next").c_str(), nullptr, 10);
    since = since > kHistoryBytes ? since - kHistoryBytes : 0;

    bool interactive = isatty(STDIN_FILENO);
    std::optional<RawTerminal> raw;
    if (interactive) {
        err << "Connected to " << name << ". Detach with Ctrl-]\r\n";
        raw.emplace();
    }
    bool input_open = true;
    auto last_output = std::chrono::steady_clock::now();
    for (;;) {
        if (input_open) {
            pollfd in{STDIN_FILENO, POLLIN, 0};
            if (poll(&in, 1, kPollMilliseconds) > 0) {
                char buffer[4096];
                ssize_t got = ::read(STDIN_FILENO, buffer, sizeof(buffer));
                if (got <= 0) {
                    input_open = false;
                    last_output = std::chrono::steady_clock::now();
                } else {
                    std::string input(buffer, size_t(got));
                    size_t detach = input.find(kDetach);
                    if (detach != std::string::npos)
                        input.resize(detach);
                    if (!input.empty()) {
                        auto sent = client.request("POST", target, input,
                                                   "application/octet-stream", error);
                        if (!sent || sent->status != 200)
                            return fail(sent);
                    }
                    if (detach != std::string::npos) {
                        raw.reset();
                        err << "\nDetached from " << name << ".\n";
                        return kExitOk;
                    }
                }
            }
        } else {
            usleep(kPollMilliseconds * 1000);
        }
        auto output =
            client.request("GET", target + "?since=" + std::to_string(since), "", "", error);
        if (!output || output->status != 200)
            return fail(output);
        if (!output->body.empty()) {
            if (!write_all(STDOUT_FILENO, output->body))
                return kExitOk; // stdout closed: nobody is watching any more
            last_output = std::chrono::steady_clock::now();
        }
        since = std::strtoull(output->header("halcyon-console-next").c_str(), nullptr, 10);
        if (!input_open && std::chrono::steady_clock::now() - last_output >= kQuietPeriod)
            return kExitOk;
    }
}

} // namespace halcyon::halctl
