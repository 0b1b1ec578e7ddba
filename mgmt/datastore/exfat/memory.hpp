// Memory for the library's buffers (allocation bitmap, up-case table, sector cache, open-file
// table). The library never calls operator new or malloc: the caller injects an Allocator. It is
// the VHDX library's interface, so one heap adapter serves both libraries.
#pragma once

#include "lib/base/error_or.hpp"
#include "vhdx/allocator.hpp"
#include "vhdx/buffer.hpp"

#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <utility>

namespace halcyon::exfat {

using Allocator = vhdx::Allocator;

// An owned, zero-filled, 4 KiB-aligned byte buffer from the injected Allocator: the VHDX
// library's, so both libraries share one implementation.
using Buffer = vhdx::Buffer;

} // namespace halcyon::exfat
