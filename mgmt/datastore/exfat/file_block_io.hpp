// An open exFAT file as a vhdx::BlockIo, so the VHDX library runs on files in the datastore.
// The file must stay open (and its volume mounted) for the adapter's lifetime.
#pragma once

#include "mgmt/datastore/exfat/file.hpp"
#include "vhdx/block_io.hpp"

namespace halcyon::exfat {

class FileBlockIo final : public vhdx::BlockIo {
public:
    explicit FileBlockIo(File& file) : file_(file) {}

    [[nodiscard]] ErrorOr<void> read(uint64_t offset, std::span<uint8_t> buffer) override;
    [[nodiscard]] ErrorOr<void> write(uint64_t offset, std::span<const uint8_t> data) override;
    // File::flush: data and allocation, then the directory entry, each behind a barrier.
    [[nodiscard]] ErrorOr<void> flush() override { return file_.flush(); }
    [[nodiscard]] ErrorOr<uint64_t> size() override { return file_.size(); }
    [[nodiscard]] ErrorOr<void> set_size(uint64_t size) override { return file_.set_size(size); }
    [[nodiscard]] bool read_only() const override { return !file_.writable(); }

private:
    File& file_;
};

} // namespace halcyon::exfat
