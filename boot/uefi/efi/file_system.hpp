// EFI_SIMPLE_FILE_SYSTEM_PROTOCOL and EFI_FILE_PROTOCOL (UEFI 2.10, sections 13.4 and 13.5):
// reading the loader's files from the EFI system partition (disk or USB boot).
#pragma once

#include "boot/uefi/efi/types.hpp"

namespace halcyon::efi {

struct FileProtocol {
    uint64_t revision;
    Status(HALCYON_EFIAPI* open)(FileProtocol* self, FileProtocol** new_handle,
                                 const Char16* file_name, uint64_t open_mode, uint64_t attributes);
    Status(HALCYON_EFIAPI* close)(FileProtocol* self);
    void* delete_file;
    Status(HALCYON_EFIAPI* read)(FileProtocol* self, Uintn* buffer_size, void* buffer);
    void* write;
    void* get_position;
    void* set_position;
    Status(HALCYON_EFIAPI* get_info)(FileProtocol* self, const Guid* information_type,
                                     Uintn* buffer_size, void* buffer);
    void* set_info;
    void* flush;
    // Revision 2 adds OpenEx/ReadEx/WriteEx/FlushEx; the loader does not use them.
};

inline constexpr uint64_t kFileModeRead = 0x0000000000000001;

// EFI_FILE_INFO: followed by the NUL-terminated CHAR16 file name.
struct FileInfo {
    uint64_t size; // of this structure including the name
    uint64_t file_size;
    uint64_t physical_size;
    Time create_time;
    Time last_access_time;
    Time modification_time;
    uint64_t attribute;
};
static_assert(sizeof(FileInfo) == 80);

inline constexpr uint64_t kFileAttributeDirectory = 0x10;

struct SimpleFileSystemProtocol {
    uint64_t revision;
    Status(HALCYON_EFIAPI* open_volume)(SimpleFileSystemProtocol* self, FileProtocol** root);
};

inline constexpr Guid kSimpleFileSystemProtocolGuid = {
    0x964E5B22, 0x6459, 0x11D2, {0x8E, 0x39, 0x00, 0xA0, 0xC9, 0x69, 0x72, 0x3B}};
inline constexpr Guid kFileInfoGuid = {
    0x09576E92, 0x6D3F, 0x11D2, {0x8E, 0x39, 0x00, 0xA0, 0xC9, 0x69, 0x72, 0x3B}};

} // namespace halcyon::efi
