// The Multiboot2 boot stage's output and its one way out on failure. Lines go to COM1 (which is
// where Halcyon's tests and most servers' consoles look) and, while the boot loader left the
// screen in VGA text mode, to the screen as well. fail() mirrors the UEFI loader: the detail,
// "HALCYON BOOT FAILED: <reason>", about two seconds to read it, then an ACPI power-off, so a
// virtual machine exits instead of hanging.
#pragma once

#include "lib/base/error_or.hpp"

#include <stdint.h>

namespace halcyon::multiboot2 {

// COM1 at 115200 8N1 (GRUB may have set it up already; the stage does not rely on it).
void console_init();
// Also write to the VGA text screen at `buffer` (physical, identity mapped) of the given size.
void console_use_text_screen(uint64_t buffer, uint32_t columns, uint32_t rows);

// Prints "halcyon-loader: <message>".
__attribute__((format(printf, 1, 2))) void log(const char* format, ...);
// Prints a line without the prefix (configuration diagnostics).
__attribute__((format(printf, 1, 2))) void print_line(const char* format, ...);

// Where fail() finds the ACPI tables to power off; until it is known, fail() halts instead.
void set_power_off_rsdp(uint64_t rsdp_physical);

// Prints "halcyon-loader: error: <detail>" (when there is one) and "HALCYON BOOT FAILED:
// <reason>", waits about two seconds and powers the machine off.
[[noreturn]] void fail(const char* reason, const char* detail);
[[noreturn]] void fail(const char* reason, Error error);

} // namespace halcyon::multiboot2
