// The functions lwIP calls that Halcyon's management partition must provide. lwIP is built as
// lwip_core without them (cmake/Deps.cmake); the partition that links lwip_core defines each one.
// The deps.lwip_core CTest check fails if lwIP ever needs a symbol that is not listed here (or in
// our libc), so this header is the complete contract.
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Milliseconds since an arbitrary start, wrapping at 2^32: drives lwIP's timers (TCP
// retransmission, ARP/ND aging, DHCP) through sys_check_timeouts(). Declared by lwip/sys.h too.
uint32_t sys_now(void);

// A 32-bit random number for TCP initial sequence numbers, DHCP transaction ids and local ports.
// Must not be predictable from the network side (RDRAND/RDSEED or a seeded generator).
uint32_t halcyon_lwip_random(void);

// lwIP's debug and diagnostic output (LWIP_PLATFORM_DIAG), printf-style, no trailing newline
// guaranteed.
void halcyon_lwip_diag(const char* format, ...) __attribute__((format(printf, 1, 2)));

// A failed LWIP_ASSERT: lwIP's state is corrupt past this point, so the implementation must not
// return (stop the partition and report).
__attribute__((noreturn)) void halcyon_lwip_assert(const char* message, const char* file, int line);

// lwIP's netif_find() parses the interface number of a name like "en0" with atoi(); lib/libc
// provides it, so it is not a port hook.

#ifdef __cplusplus
}
#endif
