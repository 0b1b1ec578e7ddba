// printf-style formatting into a caller's buffer, for code without a C library (the core's log,
// panic and crash reports). Pure: no allocation, no global state, no I/O, so it is safe in an
// exception handler and host-testable against the C library's snprintf.
//
// Supported: %d %i %u %x %X %p %s %c %%, length modifiers hh h l ll z, flags '-' '0' '+' ' ' '#',
// a field width and a precision (literal or '*'). %p prints "0x" and 16 hex digits (fixed width,
// so addresses line up in reports); a null %s prints "(null)". Floating point is not supported
// (the core has no FPU state): %f and other unknown conversions are copied through literally.
#pragma once

#include <stdarg.h>
#include <stddef.h>

namespace halcyon::format {

// Like vsnprintf: writes at most size-1 characters plus a NUL (nothing when size is 0) and
// returns the length the complete output would have had.
size_t vformat(char* buffer, size_t size, const char* fmt, va_list args);

__attribute__((format(printf, 3, 4))) size_t format(char* buffer, size_t size, const char* fmt,
                                                    ...);

} // namespace halcyon::format
