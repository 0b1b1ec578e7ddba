// Files from the EFI system partition (or any FAT volume) the loader itself was loaded from.
#pragma once

#include "boot/uefi/efi/file_system.hpp"
#include "boot/uefi/file_source.hpp"

namespace halcyon::loader {

class DiskFileSource final : public FileSource {
public:
    // `directory` is the loader's directory on the volume, '\'-separated with a trailing '\'.
    [[nodiscard]] ErrorOr<void> open(efi::SimpleFileSystemProtocol* file_system,
                                     const char* directory);

    [[nodiscard]] ErrorOr<LoadedFile> load(const char* path, uint32_t memory_type) override;
    [[nodiscard]] handoff::BootSource kind() const override { return handoff::BootSource::disk; }
    [[nodiscard]] const char* location() const override { return location_; }

private:
    [[nodiscard]] ErrorOr<efi::FileProtocol*> open_file(const char* path);
    [[nodiscard]] ErrorOr<uint64_t> file_size(const char* path);
    [[nodiscard]] ErrorOr<void> read_file(const char* path, void* buffer, uint64_t size);

    efi::FileProtocol* root_ = nullptr;
    char directory_[128] = {};
    char location_[136] = {};
};

} // namespace halcyon::loader
