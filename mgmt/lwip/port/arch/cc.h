// lwIP's compiler/platform adaptation for Halcyon (included by lwip/arch.h). The C library
// underneath is newlib's headers (declarations only) plus our freestanding mem*/str*; everything
// platform-specific is routed to the hooks in halcyon_lwip_hooks.h.
#pragma once

#include "halcyon_lwip_hooks.h"

// lwIP's own isdigit()/isxdigit()/... macros: newlib's <ctype.h> ones read the _ctype_ table,
// which our freestanding libc does not have.
#define LWIP_NO_CTYPE_H 1

// x86-64 is little-endian; spelled out rather than inferred from libc headers.
#define BYTE_ORDER LITTLE_ENDIAN

// LWIP_PROVIDE_ERRNO / LWIP_ERRNO_STDINCLUDE stay undefined on purpose: without the sockets API
// lwIP needs no errno values, and the partition has no errno to map them onto.

// `x` is a parenthesised argument list: LWIP_PLATFORM_DIAG(("fmt %d", value)).
#define LWIP_PLATFORM_DIAG(x)                                                                      \
    do {                                                                                           \
        halcyon_lwip_diag x;                                                                       \
    } while (0)

#define LWIP_PLATFORM_ASSERT(message)                                                              \
    do {                                                                                           \
        halcyon_lwip_assert((message), __FILE__, __LINE__);                                        \
    } while (0)

#define LWIP_RAND() ((u32_t)halcyon_lwip_random())
