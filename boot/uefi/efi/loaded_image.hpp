// EFI_LOADED_IMAGE_PROTOCOL (UEFI 2.10, section 9.1) and the device path nodes the loader
// reads from it (section 10), to find out which device and directory it was started from.
#pragma once

#include "boot/uefi/efi/types.hpp"

namespace halcyon::efi {

struct SystemTable;

// EFI_DEVICE_PATH_PROTOCOL: a packed list of variable-length nodes. The length is stored as
// two bytes because nodes are not aligned.
struct DevicePath {
    uint8_t type;
    uint8_t subtype;
    uint8_t length[2];

    [[nodiscard]] uint16_t node_length() const {
        return static_cast<uint16_t>(length[0] | (length[1] << 8));
    }
};
static_assert(sizeof(DevicePath) == 4);

inline constexpr uint8_t kDevicePathTypeMedia = 0x04;
inline constexpr uint8_t kDevicePathSubtypeFilePath = 0x04; // node followed by a CHAR16 path
inline constexpr uint8_t kDevicePathTypeEnd = 0x7F;

struct LoadedImageProtocol {
    uint32_t revision;
    Handle parent_handle;
    SystemTable* system_table;
    Handle device_handle;  // the device the image was loaded from (a disk partition or a NIC)
    DevicePath* file_path; // the image's path on that device
    void* reserved;
    uint32_t load_options_size;
    void* load_options;
    void* image_base;
    uint64_t image_size;
    uint32_t image_code_type;
    uint32_t image_data_type;
    void* unload;
};

inline constexpr Guid kLoadedImageProtocolGuid = {
    0x5B1B31A1, 0x9562, 0x11D2, {0x8E, 0x3F, 0x00, 0xA0, 0xC9, 0x69, 0x72, 0x3B}};

} // namespace halcyon::efi
