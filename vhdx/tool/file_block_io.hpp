// The host side of the VHDX library: files as BlockIo (pread/pwrite, fdatasync as the flush
// barrier), parents found next to their child, GUIDs from /dev/urandom, memory from malloc.
#pragma once

#include "vhdx/allocator.hpp"
#include "vhdx/block_io.hpp"
#include "vhdx/random_source.hpp"

#include <map>
#include <memory>
#include <string>

namespace halcyon::vhdx::tool {

class FileBlockIo final : public BlockIo {
public:
    enum class Mode { read_only, read_write, create };
    // Opens path; on failure returns nullptr and sets `error` (strerror text with the path).
    static std::unique_ptr<FileBlockIo> open(const std::string& path, Mode mode,
                                             std::string& error);
    ~FileBlockIo() override;

    ErrorOr<void> read(uint64_t offset, std::span<uint8_t> buffer) override;
    ErrorOr<void> write(uint64_t offset, std::span<const uint8_t> data) override;
    ErrorOr<void> flush() override;
    ErrorOr<uint64_t> size() override;
    ErrorOr<void> set_size(uint64_t size) override;
    bool read_only() const override { return read_only_; }

    [[nodiscard]] const std::string& path() const { return path_; }
    // For a new output file that is only renamed into place once complete (TempOutput): the
    // library's ordering barriers are not needed there, since a crash leaves only a temporary
    // file that is never used, so flush() does nothing until sync() (the one barrier that
    // matters, before the rename). qemu-img convert writes its output the same way
    // (cache=unsafe).
    void defer_flushes() { defer_flushes_ = true; }
    // fdatasync now, whatever defer_flushes() said.
    [[nodiscard]] ErrorOr<void> sync();
    // errno of the last failed call, for messages (the library's Error text is static).
    [[nodiscard]] int last_errno() const { return last_errno_; }

private:
    FileBlockIo(int fd, std::string path, bool read_only)
        : fd_(fd), path_(std::move(path)), read_only_(read_only) {}
    int fd_;
    std::string path_;
    bool read_only_;
    int last_errno_ = 0;
    bool defer_flushes_ = false;
};

// Finds parents by the child's locator: relative_path against the child's directory first,
// then absolute_win32_path (Windows separators are turned into '/'). Parents are opened
// read-only; the resolver owns them.
class FileParentResolver final : public ParentResolver {
public:
    // Makes `io` (a file the caller opened) known so its parent's relative path can be
    // resolved against its directory.
    void register_file(const FileBlockIo& io) { paths_[&io] = io.path(); }

    ErrorOr<BlockIo*> open_parent(const BlockIo& child, std::string_view relative_path,
                                  std::string_view absolute_path) override;
    void close_parent(BlockIo* parent) override;

    // The path the parent of `child` was opened from (empty if none).
    [[nodiscard]] std::string parent_path_of(const BlockIo& child) const;
    // The path of the parent opened last (the one whose open failed, when a chain fails).
    [[nodiscard]] const std::string& last_opened() const { return last_opened_; }
    // The paths tried for the last failed lookup, for the error message.
    [[nodiscard]] const std::string& last_attempts() const { return attempts_; }

private:
    std::map<const BlockIo*, std::string> paths_;
    std::map<const BlockIo*, std::string> parent_of_;
    std::map<BlockIo*, std::unique_ptr<FileBlockIo>> open_;
    std::string attempts_;
    std::string last_opened_;
};

class UrandomSource final : public RandomSource {
public:
    void fill(std::span<uint8_t> bytes) override;
};

class MallocAllocator final : public Allocator {
public:
    void* allocate(size_t size, size_t align) override;
    void deallocate(void* pointer, size_t size, size_t align) override;
};

// "dir/child.vhdx" -> "dir"; "child.vhdx" -> ".".
std::string directory_of(const std::string& path);
// A locator path as a POSIX path: backslashes -> '/', a leading ".\" or "./" dropped.
std::string posix_path(std::string_view locator_path);

} // namespace halcyon::vhdx::tool
