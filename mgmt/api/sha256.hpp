// SHA-256 (FIPS 180-4) for the management API's request signatures. Incremental (a request body
// arrives in pieces on the wire but is hashed once it is complete; the signer hashes several
// fields in a row), no allocation, no table beyond the 64 round constants, so it runs unchanged
// in the management partition.
#pragma once

#include <array>
#include <span>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace halcyon::mgmt {

inline constexpr size_t kSha256DigestSize = 32;
inline constexpr size_t kSha256BlockSize = 64;
using Sha256Digest = std::array<uint8_t, kSha256DigestSize>;

class Sha256 {
public:
    Sha256() { reset(); }

    void reset();
    void update(std::span<const uint8_t> data);
    void update(std::string_view text);
    // Pads, produces the digest and resets, so one object can hash message after message.
    [[nodiscard]] Sha256Digest finish();

    [[nodiscard]] static Sha256Digest hash(std::span<const uint8_t> data);
    [[nodiscard]] static Sha256Digest hash(std::string_view text);

private:
    void compress(const uint8_t* block);

    uint32_t state_[8];
    uint8_t block_[kSha256BlockSize];
    size_t block_used_ = 0;
    uint64_t total_bytes_ = 0;
};

} // namespace halcyon::mgmt
