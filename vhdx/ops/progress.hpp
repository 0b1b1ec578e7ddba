// Progress reporting for long operations (convert, merge, check). The library only counts; the
// host tool decides whether and how to show it (a percentage on a terminal).
#pragma once

#include <stdint.h>

namespace halcyon::vhdx::ops {

class Progress {
public:
    virtual ~Progress() = default;
    // `done` of `total` units (bytes for convert/merge) are finished. Called often; cheap.
    virtual void update(uint64_t done, uint64_t total) = 0;
};

} // namespace halcyon::vhdx::ops
