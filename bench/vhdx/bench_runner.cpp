// Timing, shell and table printing for vhdx_bench.
#include "bench_runner.hpp"

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <unistd.h>

namespace vhdx_bench {

double time_seconds(const std::function<void()>& fn) {
    auto start = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void die(const std::string& message) {
    std::fprintf(stderr, "vhdx_bench: %s\n", message.c_str());
    std::exit(1);
}

void shell(const std::string& command) {
    std::string quiet = command + " >/dev/null";
    if (std::system(quiet.c_str()) != 0)
        die("command failed: " + command);
}

void qemu_io_script(const std::string& format, const std::string& file,
                    const std::vector<std::string>& commands) {
    // -t writeback: qemu-io defaults to writethrough (a flush after every write), which would
    // not be the same contest as ours/raw (both write back and flush at the end).
    std::string command = "qemu-io -t writeback -f " + format + " " + file + " >/dev/null";
    FILE* pipe = popen(command.c_str(), "w");
    if (pipe == nullptr)
        die("cannot run qemu-io");
    for (const std::string& line : commands)
        std::fprintf(pipe, "%s\n", line.c_str());
    std::fprintf(pipe, "quit\n");
    if (pclose(pipe) != 0)
        die("qemu-io failed on " + file);
}

void drop_cache(const std::string& file) {
    int fd = open(file.c_str(), O_RDONLY);
    if (fd < 0)
        return;
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
}

void warm(const std::string& file) {
    int fd = open(file.c_str(), O_RDONLY);
    if (fd < 0)
        die("cannot open " + file);
    std::vector<char> buffer(4 << 20);
    while (read(fd, buffer.data(), buffer.size()) > 0) {
    }
    close(fd);
}

static std::string rate(double bytes, double seconds) {
    if (seconds <= 0)
        return "n/a";
    char text[32];
    std::snprintf(text, sizeof(text), "%.0f", bytes / seconds / 1e6);
    return text;
}

static std::string ratio(double a, double b) {
    if (a <= 0 || b <= 0)
        return "n/a";
    char text[32];
    std::snprintf(text, sizeof(text), "%.2f", b / a); // throughput ratio = inverse time ratio
    return text;
}

void print_table(const std::vector<Row>& rows) {
    std::printf("\n| %-38s | %9s | %9s | %9s | %10s | %9s | %s\n", "operation", "ours MB/s",
                "qemu MB/s", "raw MB/s", "ours/qemu", "ours/raw", "notes |");
    std::printf("|%s|%s|%s|%s|%s|%s|%s|\n", std::string(40, '-').c_str(),
                std::string(11, '-').c_str(), std::string(11, '-').c_str(),
                std::string(11, '-').c_str(), std::string(12, '-').c_str(),
                std::string(11, '-').c_str(), std::string(7, '-').c_str());
    for (const Row& r : rows)
        std::printf("| %-38s | %9s | %9s | %9s | %10s | %9s | %s |\n", r.name.c_str(),
                    rate(r.bytes, r.ours).c_str(), rate(r.bytes, r.qemu).c_str(),
                    rate(r.bytes, r.raw).c_str(), ratio(r.ours, r.qemu).c_str(),
                    ratio(r.ours, r.raw).c_str(), r.note.c_str());
}

} // namespace vhdx_bench
