// Where the core's text goes: the serial port (and, later, other sinks such as a framebuffer
// console). Unlocked and allocation-free; log.cpp serializes ordinary lines, crash and panic
// paths call it directly.
#pragma once

#include "boot/config/config.hpp"
#include "lib/base/error_or.hpp"

#include <stddef.h>

namespace halcyon::console {

// COM1 at 115200 baud, before the configuration is known: enough to report a bad hand-off.
void init_early();
// Re-programs the serial output from halcyon.cfg ("serial = off" silences it).
[[nodiscard]] ErrorOr<void> configure(const config::SerialConfig& serial);

void write(const char* text, size_t length);
void write(const char* text);

} // namespace halcyon::console
