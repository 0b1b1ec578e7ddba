// HMAC-SHA256 (RFC 2104) over our SHA-256: the MAC that signs every management API request with
// the host key. Incremental like Sha256, no allocation. The key pads are kept so a verifier can
// reuse one object per request.
#pragma once

#include "mgmt/api/sha256.hpp"

namespace halcyon::mgmt {

class HmacSha256 {
public:
    explicit HmacSha256(std::span<const uint8_t> key);
    ~HmacSha256();

    void update(std::span<const uint8_t> data) { inner_.update(data); }
    void update(std::string_view text) { inner_.update(text); }
    // Produces the MAC and starts over with the same key.
    [[nodiscard]] Sha256Digest finish();

    [[nodiscard]] static Sha256Digest mac(std::span<const uint8_t> key,
                                          std::span<const uint8_t> message);

private:
    uint8_t inner_pad_[kSha256BlockSize];
    uint8_t outer_pad_[kSha256BlockSize];
    Sha256 inner_;
};

// Compares in time that depends only on the length, so a forger cannot learn how many leading
// bytes of a signature were right.
[[nodiscard]] bool constant_time_equal(std::span<const uint8_t> a, std::span<const uint8_t> b);

} // namespace halcyon::mgmt
