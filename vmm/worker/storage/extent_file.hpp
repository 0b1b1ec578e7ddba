// A file kept in memory, in fixed-size extents: what a VM's disk image lives in while Halcyon has
// no datastore on a physical disk (issue #7 item 4), e.g. a VHDX brought by the loader as a boot
// module. It implements vhdx::BlockIo, so the VHDX library (and storvsp over it) runs on it
// exactly as on a file: reads, writes that grow it, set_size, flush.
//
// Why extents: a dynamic VHDX grows as the guest writes new blocks, and the core cannot promise
// a large contiguous run of free memory late in its life. Extents come from an ExtentSource
// (2 MiB frames in the core, malloc in host tests) one at a time when the file grows, up to a
// maximum size fixed at creation, so one VM's disk cannot eat the host's memory. Nothing is
// durable: flush() succeeds because there is no slower medium behind memory; the contents
// vanish when the host powers off (docs/user-guide.md says so).
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/block_io.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::worker::storage {

inline constexpr uint64_t kExtentBytes = 2ull << 20;

// Where extents come from. allocate returns kExtentBytes of zeroed, writable memory or nullptr.
class ExtentSource {
public:
    [[nodiscard]] virtual uint8_t* allocate_extent() = 0;
    virtual void free_extent(uint8_t* extent) = 0;

protected:
    ~ExtentSource() = default;
};

class ExtentFile final : public vhdx::BlockIo {
public:
    // At most `max_extents` extents (the table is fixed; `table` provides its storage).
    ExtentFile(ExtentSource& source, std::span<uint8_t*> table, bool read_only);
    ~ExtentFile() override;
    ExtentFile(const ExtentFile&) = delete;
    ExtentFile& operator=(const ExtentFile&) = delete;

    // Fills a new file with `contents` (its size becomes contents.size()).
    [[nodiscard]] ErrorOr<void> load(std::span<const uint8_t> contents);

    [[nodiscard]] ErrorOr<void> read(uint64_t offset, std::span<uint8_t> buffer) override;
    [[nodiscard]] ErrorOr<void> write(uint64_t offset, std::span<const uint8_t> data) override;
    [[nodiscard]] ErrorOr<void> flush() override { return {}; }
    [[nodiscard]] ErrorOr<uint64_t> size() override { return size_; }
    [[nodiscard]] ErrorOr<void> set_size(uint64_t size) override;
    [[nodiscard]] bool read_only() const override { return read_only_; }

    [[nodiscard]] uint64_t max_size() const { return table_.size() * kExtentBytes; }
    [[nodiscard]] size_t extents_in_use() const { return extents_; }

private:
    // Makes extents [extents_, count) exist (zeroed); fails without changing anything.
    [[nodiscard]] ErrorOr<void> grow_to(size_t count);
    void shrink_to(size_t count);
    // Zeroes [from, end of its extent) so bytes past the end read as zero if the file regrows.
    void zero_tail(uint64_t from);
    template <typename Visit>
    void for_each_piece(uint64_t offset, size_t length, Visit visit);

    ExtentSource& source_;
    std::span<uint8_t*> table_;
    size_t extents_ = 0;
    uint64_t size_ = 0;
    bool read_only_;
};

} // namespace halcyon::worker::storage
