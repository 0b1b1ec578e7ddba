#include "boot/uefi/boot_location.hpp"

namespace halcyon::loader {

ErrorOr<void> loader_directory(const efi::DevicePath* file_path, char* out, size_t capacity,
                               size_t max_bytes) {
    if (capacity < 2)
        return Error(ErrorCode::out_of_range, "loader directory buffer is too small");
    // Concatenate every file-path node (firmware may split one path over several nodes).
    size_t length = 0;
    const auto* node = reinterpret_cast<const uint8_t*>(file_path);
    size_t walked = 0;
    while (node != nullptr && walked + sizeof(efi::DevicePath) <= max_bytes) {
        efi::DevicePath header;
        __builtin_memcpy(&header, node, sizeof(header));
        if (header.type == efi::kDevicePathTypeEnd)
            break;
        uint16_t node_length = header.node_length();
        if (node_length < sizeof(efi::DevicePath) || walked + node_length > max_bytes)
            return Error(ErrorCode::corrupt, "malformed device path for the loader image");
        if (header.type == efi::kDevicePathTypeMedia &&
            header.subtype == efi::kDevicePathSubtypeFilePath) {
            size_t characters = (node_length - sizeof(efi::DevicePath)) / 2;
            if (length > 0 && out[length - 1] != '\\')
                out[length++] = '\\';
            for (size_t i = 0; i < characters; ++i) {
                uint16_t c;
                __builtin_memcpy(&c, node + sizeof(efi::DevicePath) + 2 * i, 2);
                if (c == 0)
                    break;
                if (c > 0x7E)
                    return Error(ErrorCode::not_supported, "the loader's path is not ASCII");
                if (length + 2 >= capacity)
                    return Error(ErrorCode::out_of_range, "the loader's path is too long");
                out[length++] = c == '/' ? '\\' : static_cast<char>(c);
            }
        }
        node += node_length;
        walked += node_length;
    }
    // Strip the file name: keep everything up to and including the last separator.
    size_t directory_length = 0;
    for (size_t i = 0; i < length; ++i) {
        if (out[i] == '\\')
            directory_length = i + 1;
    }
    if (directory_length == 0) {
        // No usable path (some firmware leaves it empty): the volume root.
        out[0] = '\\';
        directory_length = 1;
    } else if (out[0] != '\\') {
        return Error(ErrorCode::corrupt, "the loader's path is not absolute");
    }
    out[directory_length] = '\0';
    return {};
}

} // namespace halcyon::loader
