// Where the loader reads its files from: the EFI system partition it was started from, or the
// TFTP server it was network-booted from. Paths are relative to the loader's own directory and
// use '/' separators, exactly as written in halcyon.cfg; each source maps them to its device.
#pragma once

#include "boot/handoff/handoff.hpp"
#include "lib/base/error_or.hpp"

#include <stdint.h>

namespace halcyon::loader {

// A file read whole into pages of its own.
struct LoadedFile {
    uint64_t physical_base; // page aligned; at least one page even for an empty file
    uint64_t size;          // bytes
    uint64_t page_count;
};

class FileSource {
public:
    // Reads the whole file into freshly allocated pages of `memory_type`.
    [[nodiscard]] virtual ErrorOr<LoadedFile> load(const char* path, uint32_t memory_type) = 0;
    [[nodiscard]] virtual handoff::BootSource kind() const = 0;
    // Human-readable origin ("disk:\EFI\BOOT\" or "tftp://10.0.2.2/"), for boot_path.
    [[nodiscard]] virtual const char* location() const = 0;

protected:
    ~FileSource() = default; // never deleted through the interface; lives on efi_main's stack
};

// Joins `directory` and relative `path` into `out`, turning '/' into `separator`.
[[nodiscard]] ErrorOr<void> join_path(const char* directory, const char* path, char separator,
                                      char* out, size_t capacity);

} // namespace halcyon::loader
