// The hooks lwIP needs (mgmt/lwip/port/halcyon_lwip_hooks.h): the TSC clock, random numbers,
// and diagnostics through log/panic (the core's, or the management partition's own
// implementation of the same declarations).
#include "mgmt/lwip/port/halcyon_lwip_hooks.h"
#include "mgmt/net/lwip_clock.hpp"
#include "mgmt/net/platform.hpp"
#include "vmm/core/log.hpp"
#include "vmm/core/panic.hpp"

#include <stdarg.h>

namespace halcyon::mgmt::net {
namespace {
uint64_t g_tsc_per_ms = 0;
} // namespace

void set_lwip_clock(uint64_t tsc_hz) {
    g_tsc_per_ms = tsc_hz / 1000;
}

uint64_t tsc_to_ms(uint64_t tsc) {
    return g_tsc_per_ms == 0 ? 0 : tsc / g_tsc_per_ms;
}

} // namespace halcyon::mgmt::net

extern "C" uint32_t sys_now(void) {
    return static_cast<uint32_t>(halcyon::mgmt::net::tsc_to_ms(halcyon::mgmt::net::read_tsc()));
}

extern "C" uint32_t halcyon_lwip_random(void) {
    return halcyon::mgmt::net::random32();
}

extern "C" void halcyon_lwip_diag(const char* format, ...) {
    va_list args;
    va_start(args, format);
    halcyon::log::message(halcyon::log::LogLevel::debug, format, args);
    va_end(args);
}

extern "C" void halcyon_lwip_assert(const char* message, const char* file, int line) {
    halcyon::log::error("lwIP assertion failed at %s:%d: %s", file, line, message);
    halcyon::panic("lwIP assertion failed (management network state is corrupt)");
}
