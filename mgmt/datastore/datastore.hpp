// The datastore: one mounted exFAT volume holding VHDX files, VM configurations and kernels
// (docs/datastore.md). A thin, stable front for the rest of Halcyon - the VM worker opens disks
// and kernels through it, the VM manager creates and lists files - over exfat::Volume.
//
// Paths are the volume's: UTF-8, '/'-separated, a leading '/' optional; the "ds:" prefix of
// halcyon.cfg names is accepted and dropped. Not thread-safe: the caller serializes (today every
// user runs on the bootstrap processor's cooperative loop).
#pragma once

#include "lib/base/error_or.hpp"
#include "mgmt/datastore/exfat/volume.hpp"

#include <stdint.h>
#include <string_view>

namespace halcyon::datastore {

class ListVisitor {
public:
    // Called per entry of the directory; return false to stop early.
    virtual bool entry(const exfat::EntryInfo& info) = 0;

protected:
    ~ListVisitor() = default;
};

class Datastore {
public:
    Datastore(exfat::SectorDevice& device, exfat::Allocator& allocator, exfat::Clock& clock)
        : volume_(device, allocator, clock) {}
    Datastore(const Datastore&) = delete;
    Datastore& operator=(const Datastore&) = delete;

    // Mounts with full validation (a damaged volume is refused and nothing is written); a volume
    // left dirty by a power cut gets its leaks repaired first (writable mounts only).
    [[nodiscard]] ErrorOr<void> mount(bool read_only = false);
    [[nodiscard]] bool mounted() const { return volume_.mounted(); }

    [[nodiscard]] const exfat::VolumeInfo& info() { return volume_.info(); }
    [[nodiscard]] uint64_t size_bytes();
    [[nodiscard]] uint64_t free_bytes();

    // Opens an existing file.
    [[nodiscard]] ErrorOr<exfat::File> open(std::string_view path, exfat::OpenMode mode);
    // Creates a new file of `size` bytes, zero-filled on disk (ValidDataLength = DataLength, so
    // every OS sees the whole size), making missing parent directories; fails with
    // already_exists when it exists.
    [[nodiscard]] ErrorOr<exfat::File> create(std::string_view path, uint64_t size = 0);
    // Calls `visitor` for each entry of a directory ("" or "/" is the root).
    [[nodiscard]] ErrorOr<void> list(std::string_view directory, ListVisitor& visitor);
    [[nodiscard]] ErrorOr<void> stat(std::string_view path, exfat::EntryInfo& out);
    // Reads a whole file into `out`, which must hold exactly its size.
    [[nodiscard]] ErrorOr<void> read_file(std::string_view path, std::span<uint8_t> out);
    // Makes every completed change durable; the volume is marked clean when no file is open for
    // writing (so it stays consistent for any OS even if the machine is then switched off).
    [[nodiscard]] ErrorOr<void> sync() { return volume_.sync(); }
    [[nodiscard]] ErrorOr<void> unmount() { return volume_.unmount(); }

    // The volume itself, for what this front does not cover (rename, remove, check).
    [[nodiscard]] exfat::Volume& volume() { return volume_; }

    // "ds:/vms/a.vhdx" -> "vms/a.vhdx"; other paths lose their leading '/' only.
    [[nodiscard]] static std::string_view volume_path(std::string_view path);

private:
    [[nodiscard]] ErrorOr<void> make_parents(std::string_view path);

    exfat::Volume volume_;
};

} // namespace halcyon::datastore
