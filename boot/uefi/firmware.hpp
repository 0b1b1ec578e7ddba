// The loader's view of the firmware: the system table, its console, page allocation, and the
// one way out on failure (message, "HALCYON BOOT FAILED", power off). Kept in one place because
// every other part of the loader needs these and because what is allowed changes at
// ExitBootServices (no console, no allocation afterwards).
#pragma once

#include "boot/uefi/efi/system_table.hpp"
#include "lib/base/error_or.hpp"

namespace halcyon::loader {

struct Firmware {
    efi::Handle image = nullptr;
    efi::SystemTable* system_table = nullptr;
    efi::BootServices* boot_services = nullptr; // nullptr once boot services have exited
};

// The single instance; set up first thing in efi_main.
Firmware& firmware();

// Prints "halcyon-loader: <message>\n" on the firmware console (nothing after ExitBootServices).
__attribute__((format(printf, 1, 2))) void log(const char* format, ...);
// Prints a line without the prefix (used for configuration diagnostics).
__attribute__((format(printf, 1, 2))) void print_line(const char* format, ...);

// Prints "halcyon-loader: error: <detail>" and "HALCYON BOOT FAILED: <reason>", waits ~2 s so
// the message can be read, and powers the machine off. After ExitBootServices the lines go
// straight to COM1 instead.
[[noreturn]] void fail(const char* reason, const char* detail);
// fail() for an Error: the error's message is the detail.
[[noreturn]] void fail(const char* reason, Error error);

// Allocates zeroed whole pages of the given EFI memory type anywhere in physical memory.
[[nodiscard]] ErrorOr<uint64_t> allocate_pages(uint64_t page_count, uint32_t memory_type);
// Allocates zeroed whole pages entirely below `limit` (exclusive).
[[nodiscard]] ErrorOr<uint64_t> allocate_pages_below(uint64_t limit, uint64_t page_count,
                                                     uint32_t memory_type);
void free_pages(uint64_t physical_address, uint64_t page_count);

[[nodiscard]] constexpr uint64_t pages_for(uint64_t bytes) {
    return (bytes + efi::kPageSize - 1) / efi::kPageSize;
}

// Converts a firmware status into an Error with `message`.
[[nodiscard]] Error status_error(efi::Status status, const char* message);
[[nodiscard]] const char* status_name(efi::Status status);

} // namespace halcyon::loader
