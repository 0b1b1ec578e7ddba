// The only way the VHDX library touches storage. The library makes no OS calls: the host tool
// implements BlockIo over a file, the hypervisor over its datastore, the tests over memory (with
// power cuts). Offsets and sizes are in bytes of the container file.
#pragma once

#include "lib/base/error_or.hpp"

#include <span>
#include <stdint.h>
#include <string_view>

namespace halcyon::vhdx {

class BlockIo {
public:
    virtual ~BlockIo() = default;

    // Reads exactly buffer.size() bytes at offset. Reading past size() is an error.
    [[nodiscard]] virtual ErrorOr<void> read(uint64_t offset, std::span<uint8_t> buffer) = 0;
    // Writes exactly data.size() bytes at offset; writing past size() grows the file (bytes
    // between the old end and offset read as zero). Not durable until flush() succeeds.
    [[nodiscard]] virtual ErrorOr<void> write(uint64_t offset, std::span<const uint8_t> data) = 0;
    // Makes every completed write (and size change) durable. The library's crash safety rests
    // on this being a real barrier: nothing written after flush() can become durable before
    // something written before it.
    [[nodiscard]] virtual ErrorOr<void> flush() = 0;
    [[nodiscard]] virtual ErrorOr<uint64_t> size() = 0;
    // Grows (new bytes read as zero) or shrinks the file.
    [[nodiscard]] virtual ErrorOr<void> set_size(uint64_t size) = 0;
    // True when the backing store refuses writes; Disk::open then refuses write access.
    [[nodiscard]] virtual bool read_only() const = 0;
};

// Finds the parent of a differencing disk. The library passes the paths recorded in the child's
// parent locator (relative_path is relative to the child's directory; either may be empty) and
// the BlockIo of the child whose locator it is (the resolver knows which file that is, so it can
// resolve a grandparent's relative path against the parent's directory). The BlockIo returned
// stays owned by the resolver; the library gives it back through close_parent() when the child
// is closed. Parents are opened read-only by the library whatever the BlockIo allows.
class ParentResolver {
public:
    virtual ~ParentResolver() = default;

    [[nodiscard]] virtual ErrorOr<BlockIo*> open_parent(const BlockIo& child,
                                                        std::string_view relative_path,
                                                        std::string_view absolute_path) = 0;
    virtual void close_parent(BlockIo* parent) = 0;
};

} // namespace halcyon::vhdx
