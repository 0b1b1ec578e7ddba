// A small printf for the loader: %s %c %d %u %x with optional 0-padding, width and the l/ll/z
// length modifiers. Freestanding (no libc), bounded (always NUL-terminates, truncates silently).
#pragma once

#include <stdarg.h>
#include <stddef.h>

namespace halcyon::loader {

// Returns the number of characters written (excluding the NUL).
size_t format_text_va(char* out, size_t capacity, const char* format, va_list arguments);
__attribute__((format(printf, 3, 4))) size_t format_text(char* out, size_t capacity,
                                                         const char* format, ...);

} // namespace halcyon::loader
