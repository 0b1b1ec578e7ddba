// Randomness for new GUIDs (FileWriteGuid, DataWriteGuid, LogGuid, disk id). Injected because the
// library cannot reach an OS entropy source; the host reads /dev/urandom, the hypervisor uses
// RDRAND, tests use a seeded generator so runs are reproducible.
#pragma once

#include <span>
#include <stdint.h>

namespace halcyon::vhdx {

class RandomSource {
public:
    virtual ~RandomSource() = default;
    virtual void fill(std::span<uint8_t> bytes) = 0;
};

} // namespace halcyon::vhdx
