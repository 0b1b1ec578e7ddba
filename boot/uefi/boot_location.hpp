// Where the loader came from: its directory on the boot volume, from the loaded image's device
// path ("\EFI\BOOT\BOOTX64.EFI" -> "\EFI\BOOT\").
#pragma once

#include "boot/uefi/efi/loaded_image.hpp"
#include "lib/base/error_or.hpp"

#include <stddef.h>

namespace halcyon::loader {

// Writes the directory ('\'-separated, with a trailing '\') into `out`. Device paths are
// packed, variable-length nodes; this walks at most `max_bytes` of them.
[[nodiscard]] ErrorOr<void> loader_directory(const efi::DevicePath* file_path, char* out,
                                             size_t capacity, size_t max_bytes = 4096);

} // namespace halcyon::loader
