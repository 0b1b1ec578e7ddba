#include "boot/uefi/disk_file_source.hpp"

#include "boot/uefi/firmware.hpp"
#include "lib/format/format.hpp"

namespace halcyon::loader {

ErrorOr<void> join_path(const char* directory, const char* path, char separator, char* out,
                        size_t capacity) {
    size_t length = 0;
    for (const char* parts[] = {directory, path}; const char* part : parts) {
        for (const char* p = part; *p; ++p) {
            if (length + 1 >= capacity)
                return Error(ErrorCode::out_of_range, "file path is too long");
            out[length++] = *p == '/' ? separator : *p;
        }
    }
    out[length] = '\0';
    return {};
}

ErrorOr<void> DiskFileSource::open(efi::SimpleFileSystemProtocol* file_system,
                                   const char* directory) {
    auto status = file_system->open_volume(file_system, &root_);
    if (efi::is_error(status)) {
        log("cannot open the boot volume: %s", status_name(status));
        return status_error(status, "cannot open the boot volume");
    }
    TRY(join_path(directory, "", '\\', directory_, sizeof(directory_)));
    (void)format::format(location_, sizeof(location_), "disk:%s", directory_);
    return {};
}

ErrorOr<efi::FileProtocol*> DiskFileSource::open_file(const char* path) {
    char full[256];
    TRY(join_path(directory_, path, '\\', full, sizeof(full)));
    char16_t wide[256];
    size_t i = 0;
    for (; full[i]; ++i)
        wide[i] = static_cast<char16_t>(static_cast<unsigned char>(full[i]));
    wide[i] = 0;

    efi::FileProtocol* file = nullptr;
    auto status = root_->open(root_, &file, wide, efi::kFileModeRead, 0);
    if (efi::is_error(status)) {
        log("cannot open %s: %s", full, status_name(status));
        return status_error(status, "cannot open a file on the boot volume");
    }
    return file;
}

ErrorOr<LoadedFile> DiskFileSource::load(const char* path, uint32_t memory_type) {
    uint64_t size = TRY(file_size(path));
    uint64_t page_count = pages_for(size == 0 ? 1 : size);
    uint64_t base = TRY(allocate_pages(page_count, memory_type));
    auto read = read_file(path, reinterpret_cast<void*>(base), size);
    if (read.is_error()) {
        free_pages(base, page_count);
        return read.release_error();
    }
    return LoadedFile{.physical_base = base, .size = size, .page_count = page_count};
}

ErrorOr<uint64_t> DiskFileSource::file_size(const char* path) {
    efi::FileProtocol* file = TRY(open_file(path));
    // EFI_FILE_INFO is followed by the file name; room for a long name.
    alignas(8) uint8_t buffer[sizeof(efi::FileInfo) + 512];
    efi::Uintn size = sizeof(buffer);
    auto status = file->get_info(file, &efi::kFileInfoGuid, &size, buffer);
    (void)file->close(file);
    if (efi::is_error(status)) {
        log("cannot get the size of %s: %s", path, status_name(status));
        return status_error(status, "cannot get a file's size on the boot volume");
    }
    const auto* info = reinterpret_cast<const efi::FileInfo*>(buffer);
    if (info->attribute & efi::kFileAttributeDirectory) {
        log("%s is a directory", path);
        return Error(ErrorCode::invalid_argument, "expected a file but found a directory");
    }
    return info->file_size;
}

ErrorOr<void> DiskFileSource::read_file(const char* path, void* buffer, uint64_t size) {
    efi::FileProtocol* file = TRY(open_file(path));
    // One Read() for the whole file normally; loop because a driver may return less.
    uint64_t done = 0;
    while (done < size) {
        efi::Uintn chunk = size - done;
        auto status = file->read(file, &chunk, static_cast<uint8_t*>(buffer) + done);
        if (efi::is_error(status) || chunk == 0) {
            (void)file->close(file);
            log("cannot read %s: %s", path,
                efi::is_error(status) ? status_name(status) : "file shorter than its size");
            return status_error(efi::is_error(status) ? status : efi::Status::device_error,
                                "cannot read a file on the boot volume");
        }
        done += chunk;
    }
    (void)file->close(file);
    return {};
}

} // namespace halcyon::loader
