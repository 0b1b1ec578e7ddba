// Shared helpers of the vhdx subcommands.
#include "vhdx/tool/tool_common.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace halcyon::vhdx::tool {

bool parse_args(int argc, char** argv, int first, const std::set<std::string>& value_options,
                const std::set<std::string>& flag_options, Args& args, std::string& error) {
    for (int i = first; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg.size() > 2 && arg.compare(0, 2, "--") == 0) {
            std::string name = arg.substr(2);
            std::string value;
            bool inline_value = false;
            if (size_t eq = name.find('='); eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
                inline_value = true;
            }
            if (value_options.count(name)) {
                if (!inline_value) {
                    if (i + 1 >= argc) {
                        error = "option --" + name + " needs a value";
                        return false;
                    }
                    value = argv[++i];
                }
                args.values[name] = value;
            } else if (flag_options.count(name) && !inline_value) {
                args.flags.insert(name);
            } else {
                error = "unknown option --" + name;
                return false;
            }
        } else {
            args.positional.push_back(arg);
        }
    }
    return true;
}

std::optional<uint64_t> parse_number(const std::string& text) {
    if (text.empty())
        return std::nullopt;
    errno = 0;
    char* end = nullptr;
    unsigned long long value = std::strtoull(text.c_str(), &end, 0);
    if (errno != 0 || end == text.c_str() || *end != '\0' || text[0] == '-')
        return std::nullopt;
    return value;
}

std::optional<uint64_t> parse_size(const std::string& text) {
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
        digits++;
    if (digits == 0 || digits > 19)
        return std::nullopt;
    uint64_t value = std::strtoull(text.substr(0, digits).c_str(), nullptr, 10);
    std::string suffix = text.substr(digits);
    unsigned shift = 0;
    if (!suffix.empty()) {
        switch (suffix[0]) {
        case 'K':
        case 'k':
            shift = 10;
            break;
        case 'M':
        case 'm':
            shift = 20;
            break;
        case 'G':
        case 'g':
            shift = 30;
            break;
        case 'T':
        case 't':
            shift = 40;
            break;
        case 'B':
        case 'b':
            shift = 0;
            break;
        default:
            return std::nullopt;
        }
        std::string rest = suffix.substr(1);
        if (suffix[0] == 'B' || suffix[0] == 'b')
            rest = suffix; // plain "B"
        if (!(rest.empty() || rest == "B" || rest == "iB" || (suffix.size() == 1 && shift == 0)))
            return std::nullopt;
    }
    if (shift != 0 && value > (~0ull >> shift))
        return std::nullopt;
    return value << shift;
}

std::string format_size(uint64_t bytes) {
    const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    int unit = 0;
    double value = static_cast<double>(bytes);
    while (value >= 1024 && unit < 4) {
        value /= 1024;
        unit++;
    }
    char text[64];
    if (unit == 0)
        std::snprintf(text, sizeof(text), "%llu bytes", static_cast<unsigned long long>(bytes));
    else if (value == static_cast<double>(static_cast<uint64_t>(value)))
        std::snprintf(text, sizeof(text), "%llu %s", static_cast<unsigned long long>(value),
                      units[unit]);
    else
        std::snprintf(text, sizeof(text), "%.2f %s", value, units[unit]);
    return text;
}

int fail(const std::string& message) {
    std::fprintf(stderr, "vhdx: %s\n", message.c_str());
    return kExitError;
}

std::string describe(const Error& error, const FileBlockIo* io) {
    std::string text = error.message() != nullptr ? error.message() : error_code_name(error.code());
    if (io != nullptr && io->last_errno() != 0 && error.code() == ErrorCode::io)
        text += std::string(" (") + io->path() + ": " + std::strerror(io->last_errno()) + ")";
    return text;
}

TerminalProgress::TerminalProgress(std::string label)
    : label_(std::move(label)), enabled_(isatty(STDERR_FILENO) != 0) {}

TerminalProgress::~TerminalProgress() {
    if (enabled_ && last_percent_ >= 0)
        std::fputc('\n', stderr);
}

void TerminalProgress::update(uint64_t done, uint64_t total) {
    if (!enabled_ || total == 0)
        return;
    int percent = static_cast<int>(done * 100 / total);
    if (percent == last_percent_)
        return;
    last_percent_ = percent;
    std::fprintf(stderr, "\r%s: %3d%%", label_.c_str(), percent);
    std::fflush(stderr);
}

OpenDisk::~OpenDisk() {
    if (disk != nullptr) {
        std::string error = close();
        if (!error.empty())
            std::fprintf(stderr, "vhdx: closing %s: %s\n", io ? io->path().c_str() : "?",
                         error.c_str());
    }
}

std::string OpenDisk::close() {
    if (disk == nullptr)
        return "";
    Disk* closing = disk;
    disk = nullptr;
    auto result = closing->close();
    return result.is_error() ? describe(result.error(), io.get()) : "";
}

std::unique_ptr<OpenDisk> open_disk(const std::string& path, bool writable, std::string& error,
                                    bool ignore_parent_linkage, ErrorCode* failed_code,
                                    std::string* last_parent) {
    auto opened = std::make_unique<OpenDisk>();
    opened->io = FileBlockIo::open(
        path, writable ? FileBlockIo::Mode::read_write : FileBlockIo::Mode::read_only, error);
    if (!opened->io)
        return nullptr;
    if (!looks_like_vhdx(*opened->io)) {
        error = path + ": not a VHDX file (no \"vhdxfile\" identifier)";
        return nullptr;
    }
    opened->resolver.register_file(*opened->io);
    OpenOptions options;
    options.read_only = !writable;
    options.parent_resolver = &opened->resolver;
    options.random = &opened->random;
    options.ignore_parent_linkage = ignore_parent_linkage;
    auto disk = Disk::open(*opened->io, opened->allocator, options);
    if (disk.is_error()) {
        if (failed_code != nullptr)
            *failed_code = disk.error().code();
        if (last_parent != nullptr)
            *last_parent = opened->resolver.last_opened();
        error = path + ": " + describe(disk.error(), opened->io.get());
        if (disk.error().code() == ErrorCode::not_found &&
            !opened->resolver.last_attempts().empty())
            error += " [tried: " + opened->resolver.last_attempts() + "]";
        if (disk.error().code() == ErrorCode::permission && !writable)
            error += " (run `vhdx check --repair " + path + "` to replay the log)";
        return nullptr;
    }
    opened->disk = disk.release_value();
    return opened;
}

namespace {
// The temporary file to delete if a signal ends the process (one at a time is enough: every
// command writes at most one output file).
volatile sig_atomic_t g_have_temp = 0;
char g_temp_path[4096];

void remove_temp_and_exit(int signal) {
    if (g_have_temp)
        unlink(g_temp_path);
    _exit(128 + signal);
}
} // namespace

std::unique_ptr<TempOutput> TempOutput::create(const std::string& destination, std::string& error) {
    if (access(destination.c_str(), F_OK) == 0) {
        error = destination + ": already exists (refusing to overwrite)";
        return nullptr;
    }
    std::string pattern = destination + ".tmp-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    int fd = mkstemp(buffer.data());
    if (fd < 0) {
        error = directory_of(destination) + ": cannot create a file there: " + std::strerror(errno);
        return nullptr;
    }
    // mkstemp makes the file private (0600); the result should get the usual permissions.
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    ::close(fd);
    std::unique_ptr<TempOutput> output(new TempOutput());
    output->destination_ = destination;
    output->temp_path_ = buffer.data();
    output->io_ = FileBlockIo::open(output->temp_path_, FileBlockIo::Mode::read_write, error);
    if (!output->io_) {
        unlink(output->temp_path_.c_str());
        return nullptr;
    }
    output->io_->defer_flushes();
    std::snprintf(g_temp_path, sizeof(g_temp_path), "%s", output->temp_path_.c_str());
    g_have_temp = 1;
    std::signal(SIGINT, remove_temp_and_exit);
    std::signal(SIGTERM, remove_temp_and_exit);
    std::signal(SIGHUP, remove_temp_and_exit);
    // Past a file size limit, writes should fail (EFBIG) so the temporary file is cleaned up,
    // rather than the process being killed.
    std::signal(SIGXFSZ, SIG_IGN);
    return output;
}

TempOutput::~TempOutput() {
    g_have_temp = 0;
    io_.reset();
    if (!committed_)
        unlink(temp_path_.c_str());
}

std::string TempOutput::commit() {
    auto flushed = io_->sync();
    if (flushed.is_error())
        return describe(flushed.error(), io_.get());
    // link() fails if the destination appeared meanwhile: never replace someone's file.
    if (link(temp_path_.c_str(), destination_.c_str()) != 0)
        return destination_ + ": " + std::strerror(errno);
    unlink(temp_path_.c_str());
    committed_ = true;
    g_have_temp = 0;
    int dir = ::open(directory_of(destination_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        fsync(dir);
        ::close(dir);
    }
    return "";
}

bool looks_like_vhdx(FileBlockIo& io) {
    auto size = io.size();
    if (size.is_error() || size.value() < 8)
        return false;
    char signature[8];
    auto read = io.read(0, {reinterpret_cast<uint8_t*>(signature), 8});
    return !read.is_error() && std::memcmp(signature, "vhdxfile", 8) == 0;
}

} // namespace halcyon::vhdx::tool
