// Pieces every `vhdx` subcommand uses: argument parsing, size suffixes, error text, progress on
// a terminal, opening a disk chain, and temporary output files that never outlive a failure.
#pragma once

#include "vhdx/disk.hpp"
#include "vhdx/ops/progress.hpp"
#include "vhdx/tool/file_block_io.hpp"

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace halcyon::vhdx::tool {

// Exit statuses (documented in docs/vhdx.md). check uses 0/1/2 for its verdicts.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRepairable = 1;
inline constexpr int kExitDamaged = 2;
inline constexpr int kExitError = 3;

struct Args {
    std::vector<std::string> positional;
    std::map<std::string, std::string> values; // --name VALUE
    std::set<std::string> flags;               // --name

    [[nodiscard]] bool has(const std::string& name) const {
        return values.count(name) != 0 || flags.count(name) != 0;
    }
    [[nodiscard]] std::string value(const std::string& name,
                                    const std::string& fallback = "") const {
        auto it = values.find(name);
        return it == values.end() ? fallback : it->second;
    }
};

// Splits argv[first..] into positionals, options that take a value and flags; unknown options
// are errors. Also accepts --name=VALUE.
bool parse_args(int argc, char** argv, int first, const std::set<std::string>& value_options,
                const std::set<std::string>& flag_options, Args& args, std::string& error);

// "4096", "10G", "512M", "1T", "64KiB": binary multiples. nullopt if malformed or overflowing.
std::optional<uint64_t> parse_size(const std::string& text);
std::optional<uint64_t> parse_number(const std::string& text); // decimal or 0x hex
std::string format_size(uint64_t bytes);                       // "10 GiB", "1.5 MiB"

// Prints "vhdx: message" to stderr and returns kExitError.
int fail(const std::string& message);
// The library's message, plus the OS reason when the file layer failed.
std::string describe(const Error& error, const FileBlockIo* io = nullptr);

// Percent progress on stderr, only when stderr is a terminal.
class TerminalProgress final : public ops::Progress {
public:
    explicit TerminalProgress(std::string label);
    ~TerminalProgress() override;
    void update(uint64_t done, uint64_t total) override;

private:
    std::string label_;
    bool enabled_;
    int last_percent_ = -1;
};

// A disk and everything it needs, closed cleanly unless released.
struct OpenDisk {
    std::unique_ptr<FileBlockIo> io;
    FileParentResolver resolver;
    UrandomSource random;
    MallocAllocator allocator;
    Disk* disk = nullptr;

    OpenDisk() = default;
    OpenDisk(const OpenDisk&) = delete;
    ~OpenDisk();
    // Closes the disk (flush, empty log, final headers). Returns an error text or "".
    std::string close();
};

// Opens path as a VHDX (and its parent chain). On error returns nullptr with `error` set and,
// when given, `failed_code` and `last_parent` (the last parent file opened, empty if none).
std::unique_ptr<OpenDisk> open_disk(const std::string& path, bool writable, std::string& error,
                                    bool ignore_parent_linkage = false,
                                    ErrorCode* failed_code = nullptr,
                                    std::string* last_parent = nullptr);

// A new file written under a temporary name next to its destination, renamed into place by
// commit(); removed if the command fails, returns early or is interrupted (SIGINT/SIGTERM).
class TempOutput {
public:
    // Returns nullptr with `error` set if the destination exists or the directory is not
    // writable.
    static std::unique_ptr<TempOutput> create(const std::string& destination, std::string& error);
    ~TempOutput();

    [[nodiscard]] FileBlockIo& io() { return *io_; }
    [[nodiscard]] std::unique_ptr<FileBlockIo>& io_owner() { return io_; }
    [[nodiscard]] const std::string& temp_path() const { return temp_path_; }
    // Flushes from the library are deferred until here (see FileBlockIo::defer_flushes).
    // fsyncs, renames onto the destination (refusing to replace an existing file) and syncs
    // the directory. Returns an error text or "".
    std::string commit();

private:
    TempOutput() = default;
    std::unique_ptr<FileBlockIo> io_;
    std::string destination_;
    std::string temp_path_;
    bool committed_ = false;
};

// True if the file starts with the VHDX file identifier signature.
bool looks_like_vhdx(FileBlockIo& io);

} // namespace halcyon::vhdx::tool
