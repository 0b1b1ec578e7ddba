// Names for code addresses in crash reports and panics, from the core's own ELF file (the
// "halcyon.elf" boot module, which keeps its .symtab), plus the backtrace printer they share.
#pragma once

#include "lib/base/error_or.hpp"
#include "vmm/core/log.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>

namespace halcyon::symbols {

// Parses the core's ELF image; the bytes must stay mapped for the core's lifetime.
[[nodiscard]] ErrorOr<void> init(std::span<const uint8_t> core_elf);
[[nodiscard]] bool available();

// "function+0x1c" for `address`, or "?" when no symbol covers it. For a return address pass
// `is_return_address`: the call may be a function's last instruction, so the lookup uses
// address - 1 (the offset printed is still that of `address`).
void describe(uint64_t address, bool is_return_address, char* out, size_t capacity);

// Prints "<prefix>   #0 0xffffffff80001234 kernel_main+0x54" for `pc` and then for each frame
// reached from frame pointer `rbp` (at most kMaxFrames). `pc_is_return_address`: see describe().
inline constexpr size_t kMaxFrames = 32;
void print_backtrace(log::EmergencyOutput& out, const char* prefix, uint64_t pc,
                     bool pc_is_return_address, uint64_t rbp);

} // namespace halcyon::symbols
