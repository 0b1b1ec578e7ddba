// Include first in C++ files that use lwIP. lwIP's arch.h typedefs ssize_t as int unless
// SSIZE_MAX is defined, which clashes with the ssize_t (long) that libc++'s headers bring in
// from newlib's <sys/types.h>. Declaring the limit makes lwIP use the existing type.
// (Better fixed once in mgmt/lwip/port/arch/cc.h; noted for its owner.)
#pragma once

#include <limits.h>
#include <sys/types.h>

#ifndef SSIZE_MAX
#define SSIZE_MAX LONG_MAX
#endif
#ifndef LWIP_NO_UNISTD_H
#define LWIP_NO_UNISTD_H 1
#endif
