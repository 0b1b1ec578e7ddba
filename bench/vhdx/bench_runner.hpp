// Timing and peer-process helpers for vhdx_bench.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vhdx_bench {

// Seconds taken by fn().
double time_seconds(const std::function<void()>& fn);
// Runs a shell command (stdout/stderr discarded unless it fails); aborts the bench on failure.
void shell(const std::string& command);
// Runs `qemu-io -f FORMAT FILE` feeding `commands` (one per line) on standard input.
void qemu_io_script(const std::string& format, const std::string& file,
                    const std::vector<std::string>& commands);
[[noreturn]] void die(const std::string& message);
// Drops the file's pages from the page cache (posix_fadvise DONTNEED after fsync), so reads
// of it come from the disk for every contender alike.
void drop_cache(const std::string& file);

// Reads the whole file once (untimed), so read rows start with it in the page cache: without
// this the file written longest ago would be the coldest and lose for that reason alone.
void warm(const std::string& file);

struct Row {
    std::string name;
    double bytes;
    double ours = 0, qemu = 0, raw = 0; // seconds; <= 0 = not measured
    std::string note;
};
void print_table(const std::vector<Row>& rows);

} // namespace vhdx_bench
