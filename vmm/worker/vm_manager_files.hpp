// Where the VM manager finds the files a VM names (kernel, initrd, disks), and the files uploaded
// with Copy-VMFile (PUT /v1/files/PATH), which it keeps in host memory until a datastore on disk
// takes them over. Pure (unit-tested on the host): memory comes from an injected UploadMemory.
#pragma once

#include "lib/base/error_or.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <string_view>

namespace halcyon::worker {

// A source of VM files by path (as halcyon.cfg and New-VM name them). The bytes stay valid until
// the file is replaced or removed, which a source refuses while the file is pinned.
class VmFileSource {
public:
    // not_found when the source has no such file; busy for an upload still in progress.
    [[nodiscard]] virtual ErrorOr<std::span<const uint8_t>> find(std::string_view path) = 0;

protected:
    ~VmFileSource() = default;
};

// Memory for uploaded files: each file in one piece (the Linux loader and the disk code take a
// file as one span).
class UploadMemory {
public:
    [[nodiscard]] virtual ErrorOr<std::span<uint8_t>> allocate(uint64_t bytes) = 0;
    virtual void release(std::span<uint8_t> memory) = 0;

protected:
    ~UploadMemory() = default;
};

// Which bytes of an upload have arrived, as at most kMaxRanges disjoint sorted ranges (an upload
// in order is one range; a piece sent twice is counted once).
class ReceivedRanges {
public:
    static constexpr uint32_t kMaxRanges = 16;

    // Records [first, first + length). out_of_range when it would need more separate ranges than
    // kept (the client should send the pieces in order).
    [[nodiscard]] ErrorOr<void> add(uint64_t first, uint64_t length) {
        if (length == 0)
            return {};
        uint64_t begin = first;
        uint64_t end = first + length;
        // Merge every range that overlaps or touches [begin, end) into it.
        Range merged[kMaxRanges + 1];
        uint32_t count = 0;
        bool placed = false;
        for (uint32_t i = 0; i < count_; ++i) {
            const Range& range = ranges_[i];
            if (range.end < begin) {
                merged[count++] = range;
            } else if (range.begin > end) {
                if (!placed) {
                    merged[count++] = Range{begin, end};
                    placed = true;
                }
                merged[count++] = range;
            } else {
                begin = range.begin < begin ? range.begin : begin;
                end = range.end > end ? range.end : end;
            }
        }
        if (!placed)
            merged[count++] = Range{begin, end};
        if (count > kMaxRanges)
            return Error(ErrorCode::out_of_range,
                         "too many separate pieces of the file: send them in order");
        for (uint32_t i = 0; i < count; ++i)
            ranges_[i] = merged[i];
        count_ = count;
        return {};
    }

    [[nodiscard]] uint64_t total() const {
        uint64_t bytes = 0;
        for (uint32_t i = 0; i < count_; ++i)
            bytes += ranges_[i].end - ranges_[i].begin;
        return bytes;
    }
    [[nodiscard]] uint32_t count() const { return count_; }
    void clear() { count_ = 0; }

private:
    struct Range {
        uint64_t begin;
        uint64_t end;
    };
    Range ranges_[kMaxRanges] = {};
    uint32_t count_ = 0;
};

struct UploadProgress {
    uint64_t size = 0;     // the file's declared size
    uint64_t received = 0; // bytes stored so far
};

// The uploaded files. Single-threaded: the manager calls it from the management CPU only (the
// worker gets the spans of a VM's files when the VM starts, with the files pinned).
class UploadedFiles final : public VmFileSource {
public:
    static constexpr uint32_t kMaxFiles = 32;
    static constexpr size_t kMaxPath = 111; // as halcyon.cfg's paths
    static constexpr uint64_t kMaxFileBytes = 4ULL << 30;

    explicit UploadedFiles(UploadMemory& memory) : memory_(memory) {}
    UploadedFiles(const UploadedFiles&) = delete;
    UploadedFiles& operator=(const UploadedFiles&) = delete;
    ~UploadedFiles() {
        for (File& file : files_)
            drop(file);
    }

    // Stores `data` at `offset` of `path`, whose whole size is `total`. A piece at offset 0 of a
    // file that exists starts it over (a new upload replaces the old file); any other piece
    // must agree with the size the upload started with. busy while a live VM uses the file.
    [[nodiscard]] ErrorOr<UploadProgress> write(std::string_view path, uint64_t offset,
                                                uint64_t total, std::span<const uint8_t> data) {
        if (path.empty() || path.size() > kMaxPath)
            return Error(ErrorCode::invalid_argument, "invalid file name");
        if (total > kMaxFileBytes)
            return Error(ErrorCode::out_of_range, "a file may be at most 4 GiB");
        if (offset > total || data.size() > total - offset)
            return Error(ErrorCode::out_of_range, "the piece lies beyond the file's size");
        File* file = lookup(path);
        if (file != nullptr && file->pins > 0)
            return Error(ErrorCode::busy, "the file is in use by a running VM");
        if (file != nullptr && offset != 0 && file->size != total)
            return Error(ErrorCode::invalid_argument,
                         "the size differs from the upload in progress (start over at offset 0)");
        if (file == nullptr || offset == 0) {
            if (file == nullptr) {
                file = free_slot();
                if (file == nullptr)
                    return Error(ErrorCode::out_of_memory, "the host holds too many files");
            }
            // The memory of an older upload of the same name goes first; if the new one finds
            // no memory, the name is gone (never a half-replaced file).
            drop(*file);
            file->used = false;
            std::span<uint8_t> bytes;
            if (total > 0)
                bytes = TRY(memory_.allocate(total));
            file->bytes = bytes;
            file->size = total;
            file->used = true;
            memcpy(file->path, path.data(), path.size());
            file->path_length = static_cast<uint32_t>(path.size());
        }
        if (!data.empty())
            memcpy(file->bytes.data() + offset, data.data(), data.size());
        TRY(file->received.add(offset, data.size()));
        return UploadProgress{file->size, file->received.total()};
    }

    [[nodiscard]] ErrorOr<std::span<const uint8_t>> find(std::string_view path) override {
        const File* file = lookup(path);
        if (file == nullptr)
            return Error(ErrorCode::not_found, "no file uploaded by that name");
        if (file->received.total() != file->size)
            return Error(ErrorCode::busy, "the file's upload is not complete");
        return std::span<const uint8_t>(file->bytes.data(), file->size);
    }

    [[nodiscard]] bool holds(std::string_view path) const { return lookup(path) != nullptr; }

    // A live VM uses the file: it may not be replaced until unpinned.
    void pin(std::string_view path) {
        if (File* file = lookup(path))
            ++file->pins;
    }
    void unpin(std::string_view path) {
        if (File* file = lookup(path); file != nullptr && file->pins > 0)
            --file->pins;
    }

    [[nodiscard]] uint32_t count() const {
        uint32_t files = 0;
        for (const File& file : files_)
            files += file.used ? 1 : 0;
        return files;
    }
    [[nodiscard]] uint64_t bytes_held() const {
        uint64_t bytes = 0;
        for (const File& file : files_)
            bytes += file.bytes.size();
        return bytes;
    }

private:
    struct File {
        char path[kMaxPath] = {};
        uint32_t path_length = 0;
        std::span<uint8_t> bytes;
        uint64_t size = 0;
        ReceivedRanges received;
        uint32_t pins = 0;
        bool used = false;
    };

    File* lookup(std::string_view path) {
        for (File& file : files_) {
            if (file.used && std::string_view(file.path, file.path_length) == path)
                return &file;
        }
        return nullptr;
    }
    const File* lookup(std::string_view path) const {
        return const_cast<UploadedFiles*>(this)->lookup(path);
    }
    File* free_slot() {
        for (File& file : files_) {
            if (!file.used)
                return &file;
        }
        return nullptr;
    }
    void drop(File& file) {
        if (!file.bytes.empty())
            memory_.release(file.bytes);
        file.bytes = {};
        file.size = 0;
        file.received.clear();
    }

    UploadMemory& memory_;
    File files_[kMaxFiles];
};

} // namespace halcyon::worker
